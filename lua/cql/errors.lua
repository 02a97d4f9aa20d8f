--- Error objects: the seed's exception classes as Lua values.
--
-- Runtime failures are returned as `nil, err` where `err` is one of these
-- objects (misuse raises a plain Lua error instead). Every error has
-- `name` (the seed's class name, e.g. "Unavailable"), `message`, and where
-- it applies `code` (the server's error code), `host` and the per-class
-- fields the seed lists. `tostring(err)` gives one readable line, and
-- `err:is_a(errors.RequestExecutionException)` tests the class hierarchy:
--
--     local rows, err = session:execute(query)
--     if not rows then
--       if err:is_a(errors.Unavailable) then ... err.alive_replicas ... end
--     end
--
-- @module cql.errors
local errors = {}

local Error = {}
Error.__index = Error

--- True when the error is an instance of `class` or of a subclass of it.
function Error:is_a(class)
  local c = getmetatable(self)
  while c do
    if c == class then return true end
    c = c.parent
  end
  return false
end

--- The fields shown after the message, per class, in order.
local function info_string(err)
  local fields = getmetatable(err).fields
  if not fields then return "" end
  local parts = {}
  for _, f in ipairs(fields) do
    local v = err[f]
    if v ~= nil then
      if type(v) == "table" then
        local items = {}
        for k, x in pairs(v) do
          items[#items + 1] = type(k) == "number" and tostring(x) or (tostring(k) .. "=" .. tostring(x))
        end
        table.sort(items)
        v = "{" .. table.concat(items, ", ") .. "}"
      end
      parts[#parts + 1] = f .. "=" .. tostring(v)
    end
  end
  if #parts == 0 then return "" end
  return " info={" .. table.concat(parts, ", ") .. "}"
end

function Error.__tostring(err)
  local code = err.code and string.format(" (code 0x%04x)", err.code) or ""
  local host = err.host and (" [host " .. tostring(err.host) .. "]") or ""
  return err.name .. code .. ": " .. tostring(err.message) .. info_string(err) .. host
end

--- Defines an error class (not registered in this module: the ORM's
-- classes, per-model ones included, use it too). `fields` lists the
-- structured attributes (shown by tostring); subclasses inherit them.
-- @tparam string name
-- @param parent a class or nil
-- @tparam[opt] {string,...} fields
-- @return the class, callable with a table of fields
function errors.define_class(name, parent, fields)
  local c = { name = name, parent = parent, __index = nil, __tostring = Error.__tostring }
  c.__index = c
  local all = {}
  if parent and parent.fields then
    for _, f in ipairs(parent.fields) do all[#all + 1] = f end
  end
  for _, f in ipairs(fields or {}) do all[#all + 1] = f end
  c.fields = #all > 0 and all or nil
  setmetatable(c, {
    __index = parent or Error,
    --- Creating an error: `errors.Unavailable{message = ..., consistency = ...}`.
    __call = function(cls, t)
      t = t or {}
      t.name = name
      if t.message == nil then t.message = name end
      return setmetatable(t, cls)
    end,
  })
  return c
end

local function class(name, parent, fields)
  local c = errors.define_class(name, parent, fields)
  errors[name] = c
  return c
end

-- The seed's hierarchy (cassandra/__init__.py, cluster, connection, protocol).
local DriverException = class("DriverException")
local RequestExecutionException = class("RequestExecutionException", DriverException)
class("Unavailable", RequestExecutionException, { "consistency", "required_replicas", "alive_replicas" })
local Timeout = class("Timeout", RequestExecutionException,
  { "consistency", "required_responses", "received_responses" })
class("ReadTimeout", Timeout, { "data_retrieved" })
class("WriteTimeout", Timeout, { "write_type" })
class("CDCWriteFailure", RequestExecutionException)
local CoordinationFailure = class("CoordinationFailure", RequestExecutionException,
  { "consistency", "required_responses", "received_responses", "failures", "error_code_map" })
class("ReadFailure", CoordinationFailure, { "data_retrieved" })
class("WriteFailure", CoordinationFailure, { "write_type" })
class("CASWriteUnknown", RequestExecutionException, { "consistency", "required_responses", "received_responses" })
class("FunctionFailure", RequestExecutionException, { "keyspace", "function", "arg_types" })
class("Overloaded", RequestExecutionException)
class("IsBootstrapping", RequestExecutionException)
class("TruncateError", RequestExecutionException)
local RequestValidationException = class("RequestValidationException", DriverException)
local ConfigurationException = class("ConfigurationException", RequestValidationException)
class("AlreadyExists", ConfigurationException, { "keyspace", "table" })
class("InvalidRequest", RequestValidationException)
class("Unauthorized", RequestValidationException)
-- The seed keeps SyntaxException apart from InvalidRequest; so do we.
class("SyntaxException", RequestValidationException)
class("AuthenticationFailed", DriverException)
class("OperationTimedOut", DriverException, { "errors", "last_host" })
class("UnsupportedOperation", DriverException)
class("UnresolvableContactPoints", DriverException)
class("ServerError", DriverException)
class("ProtocolException", DriverException)
class("PreparedQueryNotFound", RequestValidationException, { "query_id" })
-- Not a DriverException in the seed either: it aggregates per-host errors.
class("NoHostAvailable", nil, { "errors" })
local ConnectionException = class("ConnectionException", DriverException, { "endpoint" })
class("ConnectionShutdown", ConnectionException)
class("ProtocolVersionUnsupported", ConnectionException, { "startup_version" })
class("ConnectionBusy", DriverException)
class("TraceUnavailable", DriverException)

--- Write types the server reports in write timeouts and failures.
errors.WriteType = { SIMPLE = 0, BATCH = 1, UNLOGGED_BATCH = 2, COUNTER = 3, BATCH_LOG = 4,
                     CAS = 5, VIEW = 6, CDC = 7 }

local consistency_names = { [0] = "ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM",
                            "EACH_QUORUM", "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE" }

-- Server error codes (protocol spec section 9) to classes.
local by_code = {
  [0x0000] = "ServerError", [0x000A] = "ProtocolException", [0x0100] = "AuthenticationFailed",
  [0x1000] = "Unavailable", [0x1001] = "Overloaded", [0x1002] = "IsBootstrapping",
  [0x1003] = "TruncateError", [0x1100] = "WriteTimeout", [0x1200] = "ReadTimeout",
  [0x1300] = "ReadFailure", [0x1400] = "FunctionFailure", [0x1500] = "WriteFailure",
  [0x1600] = "CDCWriteFailure", [0x1700] = "CASWriteUnknown", [0x2000] = "SyntaxException",
  [0x2100] = "Unauthorized", [0x2200] = "InvalidRequest", [0x2300] = "ConfigurationException",
  [0x2400] = "AlreadyExists", [0x2500] = "PreparedQueryNotFound",
}

--- Builds the error object for a server ERROR message.
-- `e` holds the decoded fields: `code`, `message`, and as the code has them
-- `consistency` (a number), `required`, `alive`, `received`, `block_for`,
-- `write_type` (a string), `data_present`, `num_failures`, `reasons`
-- (address -> failure code), `keyspace`, `table`, `function`, `arg_types`,
-- `unprepared_id`. Unknown codes give a ServerError that keeps the code.
-- @param e the decoded fields
-- @param host the address of the host that answered
function errors.from_server(e, host)
  local cls = errors[by_code[e.code] or "ServerError"]
  local err = {
    code = e.code, message = e.message, host = host,
    consistency = e.consistency and (consistency_names[e.consistency] or e.consistency) or nil,
  }
  local name = cls.name
  if name == "Unavailable" then
    err.required_replicas, err.alive_replicas = e.required, e.alive
  elseif cls == errors.ReadTimeout or cls == errors.WriteTimeout or name == "CASWriteUnknown"
      or cls.parent == CoordinationFailure then
    err.required_responses, err.received_responses = e.block_for, e.received
  end
  if name == "ReadTimeout" or name == "ReadFailure" then err.data_retrieved = e.data_present end
  if name == "WriteTimeout" or name == "WriteFailure" then
    err.write_type = e.write_type and (errors.WriteType[e.write_type] or e.write_type) or nil
  end
  if cls.parent == CoordinationFailure then
    err.failures = e.num_failures
    err.error_code_map = e.reasons
  end
  if name == "FunctionFailure" then
    err.keyspace, err["function"], err.arg_types = e.keyspace, e["function"], e.arg_types
  elseif name == "AlreadyExists" then
    err.keyspace, err.table = e.keyspace, e.table
  elseif name == "PreparedQueryNotFound" then
    err.query_id = e.unprepared_id
  end
  if name ~= "Unavailable" and name ~= "ReadTimeout" and name ~= "WriteTimeout"
      and cls.parent ~= CoordinationFailure and name ~= "CASWriteUnknown" then
    err.consistency = nil
  end
  return cls(err)
end

--- True when `v` is one of these error objects.
function errors.is_error(v)
  local mt = type(v) == "table" and getmetatable(v)
  return mt and mt.__tostring == Error.__tostring and mt.name ~= nil or false
end

return errors
