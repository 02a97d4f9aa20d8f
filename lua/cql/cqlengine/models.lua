--- Models of the ORM (the seed's `cqlengine.models`): a table's columns
-- declared once, instances saved, updated and deleted, query sets over the
-- rows.
--
--    local User = models.Model("User", {
--      __table_name = "users",                  -- default: snake_case of the name
--      __keyspace = "app",                      -- default: connection.setup's keyspace
--      __connection = nil,                      -- default: the default connection
--      __options = { default_time_to_live = 86400, comment = "people",
--                    compaction = { class = "LeveledCompactionStrategy" } },
--      { "id", columns.UUID { primary_key = true, default = util.uuid4 } },
--      { "name", columns.Text { required = true } },
--      { "age", columns.Integer { index = true } },
--    })
--
-- **Order.** Columns are `{name, column}` pairs in the array part of the
-- definition: their order is the order of the primary key and of the
-- table's columns (Lua tables have no order of their own). Named entries
-- starting with `__` are table options; any other named entry is an error.
--
-- **Instances.** `User{name = "ada"}` makes an instance (defaults applied);
-- its fields are plain table fields (`u.name`). `u:save(opts)`,
-- `u:update(values, opts)` and `u:delete(opts)` return the instance (true
-- for delete) or `nil, err`. `opts` (all optional): `ttl` (seconds),
-- `timestamp` (microseconds, number or int64), `if_not_exists` (save),
-- `if_exists` (update, delete, save), `iff` (a table of conditions, keys
-- as in `filter`: `{name = "x", age__gt = 3}`), `consistency`, `timeout`,
-- `batch` (a `query.BatchQuery`: the statement joins it instead of
-- running). The seed's chained spelling works too:
-- `u:ttl(60):if_not_exists():save()`. A conditional write that is not
-- applied returns `nil, LWTException` with `err.existing`.
--
-- `save` writes every column (an INSERT, or an UPDATE with `iff` /
-- `if_exists`); a column set to nil since it was loaded is deleted;
-- columns never set are left alone (bound as unset), so one prepared
-- statement serves every save. `update` writes only the columns that
-- changed (no query when none did). On a model with counters, `save` and
-- `update` add the difference between the loaded and the current values.
--
-- **Polymorphism.** A base with a `discriminator_column` is extended with
-- `Base:extend("Cat", {__discriminator_value = "cat", {...columns...}})`:
-- subclasses share the base's table, their query sets filter on the
-- discriminator (index the column, or make it a clustering key), and
-- queries through the base return instances of the subclasses. An
-- abstract model (`__abstract = true`) has no table; `extend` inherits its
-- columns.
--
-- Definition errors raise `ModelDefinitionException`; invalid values raise
-- `ValidationError` before any query is sent.
-- @module cql.cqlengine.models
local cqlengine = require "cql.cqlengine"
local columns = require "cql.cqlengine.columns"
local connection = require "cql.cqlengine.connection"
local query = require "cql.cqlengine.query"
local qb = require "cql.querybuilder"
local compare = require "cql.util.compare"
local UNSET = require("cql.util.sentinels").UNSET_VALUE
local NULL = require("cql.util.sentinels").NULL

local M = {}

local state = setmetatable({}, { __mode = "k" }) -- instance -> {persisted, previous, pending}

-- Names an instance answers with a method: no column may take them.
local INSTANCE_METHODS = {
  "save", "update", "delete", "validate", "pk", "get_changed_columns", "as_table", "is_persisted",
  "ttl", "timestamp", "if_not_exists", "if_exists", "iff", "consistency", "timeout", "batch",
}
local RESERVED = {}
for _, n in ipairs(INSTANCE_METHODS) do RESERVED[n] = true end

local OPTION_KEYS = { __table_name = true, __keyspace = true, __connection = true, __options = true,
                      __abstract = true, __consistency = true, __discriminator_value = true }

local function def_error(msg, level)
  cqlengine.raise(cqlengine.ModelDefinitionException, msg, nil, (level or 1) + 1)
end

local function snake(name)
  local s = name:gsub("(%l)(%u)", "%1_%2"):gsub("(%u)(%u%l)", "%1_%2"):lower()
  return s:sub(-48)
end

---------------------------------------------------------------------------
-- Instances
---------------------------------------------------------------------------

local Instance = {}

local function st(inst)
  local s = state[inst]
  if not s then
    s = { persisted = false, previous = {} }
    state[inst] = s
  end
  return s
end

--- The model (class) of an instance.
-- @local
local function model_of(inst)
  return getmetatable(inst).model
end

local OP_OPTIONS = { ttl = true, timestamp = true, if_not_exists = true, if_exists = true, iff = true,
                     consistency = true, timeout = true, batch = true }

-- The options of one operation: the chained ones, then the given ones.
local function take_options(inst, opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #%d to '%s' (table of options expected)"):format(fname == "save" and 1 or 2, fname), 3)
  end
  local s = st(inst)
  local o = {}
  for k, v in pairs(s.pending or {}) do o[k] = v end
  s.pending = nil
  for k, v in pairs(opts or {}) do
    if not OP_OPTIONS[k] then error(("bad option '%s' to '%s'"):format(tostring(k), fname), 3) end
    o[k] = v
  end
  if o.ttl ~= nil and (type(o.ttl) ~= "number" or o.ttl < 0 or o.ttl ~= math.floor(o.ttl)) then
    error(("bad option 'ttl' to '%s' (non-negative integer expected)"):format(fname), 3)
  end
  if o.timestamp ~= nil and type(o.timestamp) ~= "number" and type(o.timestamp) ~= "cdata" then
    error(("bad option 'timestamp' to '%s' (microseconds expected)"):format(fname), 3)
  end
  if o.iff ~= nil and type(o.iff) ~= "table" then
    error(("bad option 'iff' to '%s' (table of conditions expected)"):format(fname), 3)
  end
  return o
end

-- Chained modifiers (the seed's spelling): each records an option for the
-- next operation and returns the instance.
local function modifier(name, fixed)
  return function(self, v)
    local s = st(self)
    s.pending = s.pending or {}
    if fixed ~= nil then s.pending[name] = fixed else s.pending[name] = v end
    return self
  end
end
--- Chained: TTL (seconds) of the next save or update.
-- @function Instance:ttl
Instance.ttl = modifier("ttl")
--- Chained: USING TIMESTAMP (µs) of the next operation.
-- @function Instance:timestamp
Instance.timestamp = modifier("timestamp")
--- Chained: IF NOT EXISTS on the next save.
-- @function Instance:if_not_exists
Instance.if_not_exists = modifier("if_not_exists", true)
--- Chained: IF EXISTS on the next update, save or delete.
-- @function Instance:if_exists
Instance.if_exists = modifier("if_exists", true)
--- Chained: IF conditions (a table as in `filter`) on the next operation.
-- @function Instance:iff
Instance.iff = modifier("iff")
--- Chained: consistency level of the next operation.
-- @function Instance:consistency
Instance.consistency = modifier("consistency")
--- Chained: timeout (seconds) of the next operation.
-- @function Instance:timeout
Instance.timeout = modifier("timeout")
--- Chained: the next operation joins a BatchQuery.
-- @function Instance:batch
Instance.batch = modifier("batch")

--- Whether the instance was loaded from or saved to the server.
function Instance:is_persisted()
  return st(self).persisted
end

--- The value of the first primary key column.
function Instance:pk()
  return self[model_of(self)._primary_keys[1].name]
end

--- The instance's values as a plain table (field name to value).
function Instance:as_table()
  local out = {}
  for _, c in ipairs(model_of(self)._columns) do out[c.name] = self[c.name] end
  return out
end

--- Names of the columns whose value differs from the one loaded or saved,
-- in declaration order.
function Instance:get_changed_columns()
  local prev = st(self).previous
  local out = {}
  for _, c in ipairs(model_of(self)._columns) do
    if not compare.equal(self[c.name], prev[c.name]) then out[#out + 1] = c.name end
  end
  return out
end

-- Checks every column; returns field name -> value to bind.
local function validate_all(inst)
  local model = model_of(inst)
  for k in pairs(inst) do
    if not model._by_name[k] then
      columns.fail(model.__name .. "." .. tostring(k), "unknown column",
                   ("%s has no column '%s'"):format(model.__name, tostring(k)))
    end
  end
  local out = {}
  for _, c in ipairs(model._columns) do
    out[c.name] = c:validate(inst[c.name], model.__name .. "." .. c.name)
  end
  return out
end

--- Checks every value against its column; raises a ValidationError.
-- @return the instance
function Instance:validate()
  validate_all(self)
  return self
end

local function check_not_base(model, what)
  if model._is_polymorphic_base then
    cqlengine.raise(cqlengine.PolymorphicModelException,
      ("cannot %s through the polymorphic base %s: use a subclass"):format(what, model.__name), nil, 3)
  end
end

-- A row the server returned (keyed by db field) as field name -> value.
local function named_row(model, row)
  local out = {}
  for k, v in pairs(row or {}) do
    local c = model._db_map[k]
    if c then out[c.name] = c:to_python(v) elseif k ~= "[applied]" then out[k] = v end
  end
  return out
end

-- Runs a statement built for a model (or hands it to a batch); turns an
-- unapplied conditional write into an LWTException.
local function run(model, stmt, o, conditional)
  if o.batch then
    o.batch:add_query(stmt, model.__connection, conditional and model or nil)
    return true
  end
  local rs, err = connection.execute_builder(stmt, model.__connection, {
    consistency = o.consistency or model.__consistency, timeout = o.timeout })
  if not rs then return nil, err end
  if conditional then
    local row = rs.current_rows[1]
    if row and row["[applied]"] == false then
      return nil, cqlengine.LWTException { message = "LWT Query was not applied", existing = named_row(model, row) }
    end
  end
  return rs
end
M._run = run
M._named_row = named_row

local function where_pk(model, stmt, values)
  for _, c in ipairs(model._primary_keys) do stmt = stmt:where(c.db_field, "=", values[c.name]) end
  return stmt
end

local function using(stmt, o, ttl_ok)
  if o.ttl ~= nil and ttl_ok then stmt = stmt:using_ttl(qb.param(o.ttl)) end
  if o.timestamp ~= nil then stmt = stmt:using_timestamp(qb.param(o.timestamp)) end
  return stmt
end
M._using = using

local function conditions(model, stmt, o)
  if o.if_exists then stmt = stmt:if_exists() end
  if o.iff then
    for _, cond in ipairs(query.parse_conditions(model, o.iff)) do
      stmt = stmt:iff(cond.col.db_field, cond.op, cond.op == "in" and qb.param(cond.value) or cond.value)
    end
  end
  return stmt
end

local function remember(inst)
  local s = st(inst)
  s.persisted = true
  local prev = {}
  for _, c in ipairs(model_of(inst)._columns) do prev[c.name] = inst[c.name] end
  s.previous = prev
end

-- The counter differences of an instance: an UPDATE adding them, or nil.
local function counter_update(model, inst, values, o)
  local prev = st(inst).previous
  local stmt = using(qb.update(model:_table()), o, false)
  local any = false
  for _, c in ipairs(model._columns) do
    if c.db_type == "counter" and values[c.name] ~= nil then
      local delta = values[c.name] - (prev[c.name] or 0)
      if delta ~= 0 then
        any = true
        if delta > 0 then stmt = stmt:increment(c.db_field, delta) else stmt = stmt:decrement(c.db_field, -delta) end
      end
    end
  end
  if not any then return nil end
  return where_pk(model, stmt, values)
end

--- Writes the instance: INSERT (with `if_not_exists`), or UPDATE with
-- `iff` / `if_exists`; counters add their differences. Returns the
-- instance, or nil and an error (LWTException when not applied).
-- @tparam[opt] table opts see the module description
function Instance:save(opts)
  local model = model_of(self)
  local o = take_options(self, opts, "save")
  check_not_base(model, "save")
  local values = validate_all(self)
  local prev = st(self).previous
  if model._has_counter then
    if o.ttl or o.if_not_exists or o.if_exists or o.iff then
      error("bad option to 'save' (counter tables take no TTL and no conditions)", 2)
    end
    local stmt = counter_update(model, self, values, o)
    if stmt then
      local ok, err = run(model, stmt, o, false)
      if not ok then return nil, err end
    end
    remember(self)
    return self
  end
  local function value_of(c)
    local v = values[c.name]
    if v ~= nil then return v end
    if prev[c.name] ~= nil then return nil end -- cleared since loaded: delete it
    return UNSET
  end
  local stmt, conditional
  if o.iff or o.if_exists then
    if o.if_not_exists then error("bad option to 'save' (if_not_exists with iff or if_exists)", 2) end
    stmt = using(qb.update(model:_table()), o, true)
    local n = 0
    for _, c in ipairs(model._columns) do
      if not c.primary_key then
        stmt = stmt:set(c.db_field, value_of(c))
        n = n + 1
      end
    end
    if n == 0 then error("bad option to 'save' (a table of key columns only has nothing to update)", 2) end
    stmt = conditions(model, where_pk(model, stmt, values), o)
    conditional = true
  else
    stmt = qb.insert(model:_table())
    for _, c in ipairs(model._columns) do stmt = stmt:value(c.db_field, value_of(c)) end
    if o.if_not_exists then stmt = stmt:if_not_exists() end
    stmt = using(stmt, o, true)
    conditional = o.if_not_exists
  end
  local ok, err = run(model, stmt, o, conditional)
  if not ok then return nil, err end
  remember(self)
  return self
end

--- Sets `values` (field name to value; primary keys cannot change) and
-- writes the columns that changed: an UPDATE (counters: their
-- differences). No query when nothing changed. Returns the instance, or
-- nil and an error.
-- @tparam table values
-- @tparam[opt] table opts see the module description
function Instance:update(values, opts)
  local model = model_of(self)
  if values ~= nil and type(values) ~= "table" then error("bad argument #1 to 'update' (table expected)", 2) end
  local o = take_options(self, opts, "update")
  check_not_base(model, "update")
  for k, v in pairs(values or {}) do
    local c = model._by_name[k]
    if not c then
      columns.fail(model.__name .. "." .. tostring(k), "unknown column",
                   ("%s has no column '%s'"):format(model.__name, tostring(k)))
    end
    if c.primary_key and not compare.equal(v, self[k]) then
      columns.fail(model.__name .. "." .. k, "primary_key", "a primary key column cannot be updated")
    end
  end
  local saved = {}
  for k, v in pairs(values or {}) do
    saved[k] = self[k]
    if v == NULL then v = nil end
    self[k] = v
  end
  local ok, vals = pcall(validate_all, self)
  if not ok then
    for k, v in pairs(saved) do self[k] = v end
    error(vals, 2)
  end
  local stmt
  if model._has_counter then
    if o.ttl or o.if_not_exists or o.if_exists or o.iff then
      error("bad option to 'update' (counter tables take no TTL and no conditions)", 2)
    end
    stmt = counter_update(model, self, vals, o)
  else
    local changed = self:get_changed_columns()
    stmt = using(qb.update(model:_table()), o, true)
    local n = 0
    for _, name in ipairs(changed) do
      local c = model._by_name[name]
      if not c.primary_key then
        stmt = stmt:set(c.db_field, vals[name])
        n = n + 1
      end
    end
    if n == 0 then stmt = nil else stmt = conditions(model, where_pk(model, stmt, vals), o) end
  end
  if stmt then
    local r, err = run(model, stmt, o, not model._has_counter and (o.iff or o.if_exists))
    if not r then return nil, err end
  end
  remember(self)
  return self
end

--- Deletes the instance's row (`timestamp`, `if_exists`, `iff`,
-- `consistency`, `timeout`, `batch`). Returns true, or nil and an error.
-- @tparam[opt] table opts
function Instance:delete(opts)
  local model = model_of(self)
  local o = take_options(self, opts, "delete")
  local keys = {}
  for _, c in ipairs(model._primary_keys) do
    keys[c.name] = c:validate(self[c.name], model.__name .. "." .. c.name)
  end
  local stmt = conditions(model, where_pk(model, using(qb.delete(model:_table()), o, false), keys), o)
  local ok, err = run(model, stmt, o, o.iff or o.if_exists)
  if not ok then return nil, err end
  st(self).persisted = false
  return true
end

---------------------------------------------------------------------------
-- Model classes
---------------------------------------------------------------------------

local Model = {}
M.ModelClass = Model

--- The default keyspace (set by `connection.setup`).
function M.default_keyspace()
  return connection.default_keyspace
end

--- The model's keyspace (its `__keyspace`, else the default); raises an
-- UndefinedKeyspaceException when there is none.
function Model:_get_keyspace()
  local ks = self.__keyspace or connection.default_keyspace
  if not ks then
    cqlengine.raise(cqlengine.UndefinedKeyspaceException,
      ("Model keyspace is not set for %s: give __keyspace or call connection.setup"):format(self.__name), nil, 3)
  end
  return ks
end

--- The table name, qualified by the keyspace ("ks.table").
-- @local
function Model:_table()
  return self:_get_keyspace() .. "." .. self.__table_name
end

--- The quoted, keyspace-qualified table name (as CQL writes it).
-- @tparam[opt=true] boolean include_keyspace
function Model:column_family_name(include_keyspace)
  local t = qb.quote_identifier(self.__table_name)
  if include_keyspace == false then return t end
  return qb.quote_identifier(self:_get_keyspace()) .. "." .. t
end

--- The column `name` (a field name), or nil.
function Model:_get_column(name)
  return self._by_name[name]
end

--- An instance from a row read from the server (keyed by db field):
-- through a polymorphic base, an instance of the row's subclass.
-- @local
function Model:_from_row(row)
  local model = self
  if self._discriminator_column then
    local d = row[self._discriminator_column.db_field]
    local base = self._polymorphic_base or self
    local sub = d ~= nil and base._discriminator_map[d]
    if sub and self._using then
      -- a base bound to another keyspace/connection: so are its subclasses
      self._sub_clones = self._sub_clones or {}
      local c = self._sub_clones[sub]
      if not c then
        c = sub:using(self._using)
        self._sub_clones[sub] = c
      end
      sub = c
    end
    if sub then model = sub end
  end
  local inst = {}
  for k, v in pairs(row) do
    local c = model._db_map[k]
    if c then inst[c.name] = c:to_python(v) end
  end
  setmetatable(inst, model._instance_mt)
  remember(inst)
  return inst
end

--- A new instance (not saved): `Model{field = value, ...}`; missing fields
-- take their defaults. An unknown field raises a ValidationError.
-- @tparam[opt] table values
function Model:new(values)
  if values ~= nil and type(values) ~= "table" then error("bad argument #1 to 'new' (table expected)", 2) end
  local inst = {}
  for k, v in pairs(values or {}) do
    if not self._by_name[k] then
      columns.fail(self.__name .. "." .. tostring(k), "unknown column",
                   ("%s has no column '%s'"):format(self.__name, tostring(k)))
    end
    inst[k] = v
  end
  for _, c in ipairs(self._columns) do
    if inst[c.name] == nil then inst[c.name] = c:get_default() end
  end
  if self._discriminator_column and self.__discriminator_value ~= nil then
    inst[self._discriminator_column.name] = self.__discriminator_value
  end
  setmetatable(inst, self._instance_mt)
  st(inst)
  return inst
end

--- Makes and saves an instance; returns it, or nil and an error.
-- @tparam table values
-- @tparam[opt] table opts as for `save`
function Model:create(values, opts)
  local inst = self:new(values)
  return inst:save(opts)
end

--- `Model.objects:filter(...)`.
function Model:filter(f) return self.objects:filter(f) end
--- `Model.objects:get(...)`.
function Model:get(f) return self.objects:get(f) end
--- `Model.objects:all()`.
function Model:all() return self.objects:all() end

--- A copy of the model bound to another keyspace and/or connection:
-- `User:using{keyspace = "archive", connection = "other"}`.
-- @tparam table opts
function Model:using(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'using' (table expected)", 2) end
  local clone = {}
  for k, v in pairs(self) do clone[k] = v end
  for k, v in pairs(opts) do
    if k == "keyspace" then clone.__keyspace = v
    elseif k == "connection" then clone.__connection = v
    else error(("bad argument #1 to 'using' (unknown option '%s')"):format(tostring(k)), 2) end
  end
  clone._origin = self._origin or self
  clone._using = { keyspace = clone.__keyspace, connection = clone.__connection }
  clone._sub_clones = nil
  return M._finish(clone)
end

local function copy_column(col, name)
  if not columns.is_column(col) then return nil end
  local c = setmetatable({}, { __index = col })
  c.name = name
  c.db_field = col.db_field or name
  return c
end

-- Builds the derived fields of a model from its `_columns`.
local function build(model)
  local name = model.__name
  model._by_name, model._db_map = {}, {}
  model._primary_keys, model._partition_keys, model._clustering_keys = {}, {}, {}
  model._has_counter, model._discriminator_column = false, nil
  local has_partition_key = false
  for _, c in ipairs(model._columns) do
    if c.partition_key then has_partition_key = true end
  end
  local non_counter_data = false
  for _, c in ipairs(model._columns) do
    if model._by_name[c.name] then def_error(("%s: column '%s' defined twice"):format(name, c.name), 3) end
    if model._db_map[c.db_field] then
      def_error(("%s: db_field '%s' used by two columns"):format(name, c.db_field), 3)
    end
    model._by_name[c.name], model._db_map[c.db_field] = c, c
    if c.primary_key then
      if c.db_type == "counter" then def_error(("%s.%s: a counter cannot be a primary key"):format(name, c.name), 3) end
      if c.static then def_error(("%s.%s: a primary key column cannot be static"):format(name, c.name), 3) end
      model._primary_keys[#model._primary_keys + 1] = c
      if c.partition_key or (not has_partition_key and #model._primary_keys == 1) then
        c.is_partition_key = true
        model._partition_keys[#model._partition_keys + 1] = c
      else
        model._clustering_keys[#model._clustering_keys + 1] = c
      end
      c.required = true
    elseif c.db_type == "counter" then
      model._has_counter = true
    else
      non_counter_data = true
    end
    if c.clustering_order and (not c.primary_key or c.is_partition_key) then
      def_error(("%s.%s: clustering_order applies to clustering columns only"):format(name, c.name), 3)
    end
    if c.discriminator_column then
      if model._discriminator_column then def_error(name .. ": only one discriminator_column is allowed", 3) end
      if c.db_type == "counter" or c.is_collection or c.db_type == "udt" or c.db_type == "tuple" then
        def_error(("%s.%s: a discriminator column must hold a plain value"):format(name, c.name), 3)
      end
      model._discriminator_column = c
    end
  end
  if #model._primary_keys == 0 and not model.__abstract then
    def_error(name .. ": At least 1 primary key is required.", 3)
  end
  if model._has_counter and non_counter_data then
    def_error(name .. ": a table with counters can only have counters besides its primary key", 3)
  end
  for _, c in ipairs(model._columns) do
    if c.static and #model._clustering_keys == 0 then
      def_error(("%s.%s: static columns need clustering columns"):format(name, c.name), 3)
    end
  end
  if model.__discriminator_value ~= nil and not model._discriminator_column then
    def_error(name .. ": __discriminator_value needs a discriminator_column", 3)
  end
end

-- Instance metatable and query set of a (possibly cloned) model.
function M._finish(model)
  local methods = setmetatable({}, { __index = Instance })
  local imt = { __index = methods, model = model, __name = model.__name }
  imt.__tostring = function(inst)
    local parts = {}
    for _, c in ipairs(model._primary_keys) do parts[#parts + 1] = c.name .. "=" .. tostring(inst[c.name]) end
    return model.__name .. " <" .. table.concat(parts, ", ") .. ">"
  end
  imt.__eq = function(a, b)
    if getmetatable(a) ~= getmetatable(b) then return false end
    for _, c in ipairs(model._columns) do
      if not compare.equal(a[c.name], b[c.name]) then return false end
    end
    return true
  end
  model._instance_mt = imt
  model.objects = query.QuerySet(model)
  return setmetatable(model, getmetatable(model) or {
    __index = Model,
    __call = function(cls, values) return cls:new(values) end,
    __tostring = function(cls) return "Model " .. cls.__name end,
  })
end

local function new_model(name, def, base, level)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    error("bad argument #1 to 'Model' (class name expected)", level + 1)
  end
  if type(def) ~= "table" then
    error("bad argument #2 to 'Model' (table of columns and options expected)", level + 1)
  end
  local model = { __name = name, is_model = true }
  for k, v in pairs(def) do
    if type(k) == "string" then
      if not OPTION_KEYS[k] then
        def_error(("%s: unknown entry '%s' (columns are {name, column} pairs, options start with __)"):format(name, k),
                  level + 1)
      end
      model[k] = v
    elseif type(k) ~= "number" then
      def_error(("%s: unexpected key of type %s"):format(name, type(k)), level + 1)
    end
  end
  local cols = {}
  if base then
    for _, c in ipairs(base._columns) do cols[#cols + 1] = c end
  end
  for i, pair in ipairs(def) do
    if type(pair) ~= "table" or type(pair[1]) ~= "string" or not columns.is_column(pair[2]) then
      def_error(("%s: entry %d must be a {name, column} pair"):format(name, i), level + 1)
    end
    local cname = pair[1]
    if not cname:match("^[%a][%w_]*$") then
      def_error(("%s: bad column name '%s' (a letter, then letters, digits or _)"):format(name, cname), level + 1)
    end
    if RESERVED[cname] then
      def_error(("%s: column name '%s' clashes with an instance method"):format(name, cname), level + 1)
    end
    cols[#cols + 1] = copy_column(pair[2], cname)
  end
  model._columns = cols
  if model.__options ~= nil and type(model.__options) ~= "table" then
    def_error(name .. ": __options must be a table", level + 1)
  end
  model.__options = model.__options or {}
  model.__default_ttl = model.__options.default_time_to_live
  if base and base._discriminator_column then
    -- a polymorphic subclass: the base's table, keyspace and connection
    if model.__discriminator_value == nil then
      def_error(name .. ": a subclass of a polymorphic model needs __discriminator_value", level + 1)
    end
    model.__table_name = base.__table_name
    model.__keyspace = model.__keyspace or base.__keyspace
    model.__connection = model.__connection or base.__connection
    model._polymorphic_base = base._polymorphic_base or base
    model._is_polymorphic = true
  else
    if base then
      for _, k in ipairs { "__keyspace", "__connection", "__consistency" } do
        if model[k] == nil then model[k] = base[k] end
      end
      if def.__options == nil then model.__options = base.__options end
    end
    model.__table_name = model.__table_name or snake(name)
  end
  build(model)
  if model._discriminator_column and not model._polymorphic_base then
    model._is_polymorphic, model._is_polymorphic_base = true, true
    model._discriminator_map = {}
  end
  if model._polymorphic_base then
    local map = model._polymorphic_base._discriminator_map
    if map[model.__discriminator_value] then
      def_error(("%s: discriminator value %s is already used by %s"):format(name,
        tostring(model.__discriminator_value), map[model.__discriminator_value].__name), level + 1)
    end
    local ok = pcall(model._discriminator_column.validate, model._discriminator_column,
                     model.__discriminator_value, name)
    if not ok then def_error(name .. ": __discriminator_value does not fit the discriminator column", level + 1) end
    map[model.__discriminator_value] = model
  end
  model.DoesNotExist = cqlengine.error_class(name .. ".DoesNotExist", cqlengine.DoesNotExist)
  model.MultipleObjectsReturned = cqlengine.error_class(name .. ".MultipleObjectsReturned",
                                                        cqlengine.MultipleObjectsReturned)
  return M._finish(model)
end

--- Defines a model. `name` is the class name (the default table name is
-- its snake_case); `def` holds the `{name, column}` pairs in order and the
-- options `__table_name`, `__keyspace`, `__connection`, `__options` (table
-- options for `sync_table`: `default_time_to_live`, `compaction`,
-- `comment`, `gc_grace_seconds`, `caching`, ... as CQL names them),
-- `__consistency` (default consistency of its queries) and `__abstract`.
-- Raises ModelDefinitionException for a bad definition.
-- @tparam string name
-- @tparam table def
-- @return the model class
function M.Model(name, def)
  return new_model(name, def, nil, 2)
end

--- A model extending this one: an abstract base's columns are inherited;
-- a polymorphic base's subclass (with `__discriminator_value`) shares its
-- table.
-- @tparam string name
-- @tparam table def as for `Model`, with more columns
function Model:extend(name, def)
  if not self.__abstract and not self._discriminator_column then
    def_error(("%s: only abstract or polymorphic models can be extended"):format(self.__name), 2)
  end
  return new_model(name, def, self, 2)
end

--- True when `v` is a model class.
function M.is_model(v)
  return type(v) == "table" and rawget(v, "is_model") == true
end

return M
