--- User-defined types of the ORM (the seed's `cqlengine.usertype`).
--
--    local Address = usertype.UserType("Address", {
--      __type_name = "address",            -- default: "address" (snake_case of the name)
--      { "street", columns.Text {} },
--      { "zip", columns.Integer {} },
--    })
--    local Person = models.Model("Person", {
--      { "id", columns.Integer { primary_key = true } },
--      { "home", columns.UserDefinedType { Address } },
--    })
--    Person:create { id = 1, home = Address { street = "Main St", zip = 1000 } }
--
-- Fields are declared in order, as `{name, column}` pairs (Lua tables are
-- unordered; the order is the type's field order). A column of the type
-- takes an instance or a plain table of fields; reads return instances.
-- `management.sync_type` (and `sync_table` for the types a model uses)
-- creates the type or adds new fields.
-- @module cql.cqlengine.usertype
local cqlengine = require "cql.cqlengine"
local columns = require "cql.cqlengine.columns"
local compare = require "cql.util.compare"

local M = {}

local RESERVED = { validate = true, type_name = true, items = true }

local function snake(name)
  local s = name:gsub("(%l)(%u)", "%1_%2"):gsub("(%u)(%u%l)", "%1_%2"):lower()
  return s:sub(-48)
end
M.snake_case = snake

local function definition_error(msg)
  cqlengine.raise(cqlengine.UserTypeDefinitionException, msg, nil, 3)
end

--- Defines a user type: `name` (the Lua class name) and `def` (the
-- `{name, column}` field pairs in order, plus `__type_name`). Raises a
-- UserTypeDefinitionException for a bad definition.
-- @tparam string name
-- @tparam table def
-- @return the type class; call it with a table of fields for an instance
function M.UserType(name, def)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    error("bad argument #1 to 'UserType' (class name expected)", 2)
  end
  if type(def) ~= "table" then error("bad argument #2 to 'UserType' (table of fields expected)", 2) end
  local UT = { is_user_type = true, __name = name, _fields = {}, _by_name = {} }
  UT.__type_name = (def.__type_name or snake(name)):lower()
  for k in pairs(def) do
    if type(k) == "string" and k ~= "__type_name" then
      definition_error(("%s: unknown entry '%s' (fields are {name, column} pairs in order)"):format(name, k))
    end
  end
  for i, pair in ipairs(def) do
    if type(pair) ~= "table" or type(pair[1]) ~= "string" or not columns.is_column(pair[2]) then
      definition_error(("%s: entry %d must be a {name, column} pair"):format(name, i))
    end
    local fname, col = pair[1], pair[2]
    if RESERVED[fname] then definition_error(("%s: field name '%s' is reserved"):format(name, fname)) end
    if UT._by_name[fname] then definition_error(("%s: field '%s' defined twice"):format(name, fname)) end
    if col.primary_key or col.index or col.static or col.db_field or col.discriminator_column then
      definition_error(("%s.%s: a field takes no key, index, static or db_field option"):format(name, fname))
    end
    if col.db_type == "counter" then definition_error(("%s.%s: a field cannot be a counter"):format(name, fname)) end
    -- a copy, so that one column object may serve in several places
    local c = setmetatable({}, { __index = col })
    c.name = fname
    UT._fields[#UT._fields + 1] = c
    UT._by_name[fname] = c
  end
  if #UT._fields == 0 then definition_error(name .. ": a user type needs at least one field") end

  local IMT = { __index = {}, __name = name }
  UT.instance_mt = IMT
  local methods = IMT.__index

  --- Checks every field; raises a ValidationError.
  function methods.validate(self)
    UT:validate_value(self, name)
    return self
  end
  --- The type's CQL name.
  function methods.type_name() return UT.__type_name end
  function methods.items(self)
    local i = 0
    return function()
      i = i + 1
      local f = UT._fields[i]
      if f then return f.name, self[f.name] end
    end
  end
  IMT.__eq = function(a, b)
    for _, f in ipairs(UT._fields) do
      if not compare.equal(a[f.name], b[f.name]) then return false end
    end
    return true
  end
  IMT.__tostring = function(self)
    local parts = {}
    for _, f in ipairs(UT._fields) do parts[#parts + 1] = f.name .. "=" .. tostring(self[f.name]) end
    return name .. "(" .. table.concat(parts, ", ") .. ")"
  end

  --- Checks a value of the type (an instance or a plain table of fields)
  -- and returns a plain table for the codec.
  function UT.validate_value(_, v, label)
    if type(v) ~= "table" or (getmetatable(v) and getmetatable(v) ~= IMT) then
      columns.fail(label, "type", ("an instance of %s or a table of fields expected, got %s"):format(name, type(v)))
    end
    for k in pairs(v) do
      if not UT._by_name[k] then columns.fail(label, "field", ("%s has no field '%s'"):format(name, tostring(k))) end
    end
    local out = {}
    for _, f in ipairs(UT._fields) do out[f.name] = f:validate(v[f.name], label .. "." .. f.name) end
    return out
  end

  --- An instance from a value read from the server.
  function UT.from_db(_, v)
    if v == nil then return nil end
    local inst = {}
    for _, f in ipairs(UT._fields) do inst[f.name] = f:to_python(v[f.name]) end
    return setmetatable(inst, IMT)
  end

  return setmetatable(UT, {
    __call = function(_, values)
      if values ~= nil and type(values) ~= "table" then
        error(("bad argument #1 to '%s' (table of fields expected)"):format(name), 2)
      end
      local inst = {}
      for k, v in pairs(values or {}) do
        if not UT._by_name[k] then
          cqlengine.raise(cqlengine.ValidationError, ("%s: no field '%s'"):format(name, tostring(k)),
                          { model = name, field = tostring(k), rule = "field" }, 2)
        end
        inst[k] = v
      end
      for _, f in ipairs(UT._fields) do
        if inst[f.name] == nil then inst[f.name] = f:get_default() end
      end
      return setmetatable(inst, IMT)
    end,
    __tostring = function() return "UserType " .. name end,
  })
end

--- True when `v` is a user type class.
function M.is_user_type(v)
  return type(v) == "table" and rawget(v, "is_user_type") == true
end

return M
