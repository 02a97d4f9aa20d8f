--- Statements, as in the seed's `cassandra.query`.
--
-- `session:prepare(cql)` returns a PreparedStatement; `prepared:bind(values)`
-- makes a BoundStatement from an array (by position) or a table (by marker
-- name); both can be passed to `session:execute`. Values are encoded for
-- the markers' types at bind time, so a wrong value raises at once, naming
-- the marker. `UNSET_VALUE` leaves a marker unset (protocol v4+).
-- @module cql.query
local ffi = require "ffi"
local codec = require "cql.codec"
local cqltypes = require "cql.cqltypes"
local sentinels = require "cql.util.sentinels"

local query = {}

--- Leaves a bound marker unset: the column keeps its value (v4+).
query.UNSET_VALUE = sentinels.UNSET_VALUE

local function cq_str(s)
  return s.p ~= nil and ffi.string(s.p, s.len) or nil
end

--- Row factories (`session.row_factory`): rows keyed by column name (the
-- default; the seed's named tuples), or arrays by position.
query.dict_factory = "dict"
query.named_tuple_factory = "dict"
query.tuple_factory = "tuple"

-- Options every statement may carry, checked once.
local STATEMENT_OPTIONS = { consistency_level = true, serial_consistency_level = true,
                            fetch_size = true, is_idempotent = true, timeout = true, trace = true,
                            custom_payload = true, retry_policy = true, routing_key = true, keyspace = true }

local function statement_options(self, opts, what)
  for k, v in pairs(opts or {}) do
    if not STATEMENT_OPTIONS[k] then error(("bad option '%s' for %s"):format(tostring(k), what), 3) end
    self[k] = v
  end
  return self
end

local SimpleStatement = {}
SimpleStatement.__index = SimpleStatement
query.SimpleStatement = SimpleStatement

--- A statement run as text: `SimpleStatement("SELECT ...", {consistency_level
-- = ConsistencyLevel.QUORUM, fetch_size = 100})`. Parameters given to
-- `execute` are encoded client-side into the text.
setmetatable(SimpleStatement, { __call = function(_, query_string, opts)
  if type(query_string) ~= "string" then
    error("bad argument #1 to 'SimpleStatement' (CQL string expected)", 2)
  end
  return statement_options(setmetatable({ query_string = query_string, is_idempotent = false },
                                        SimpleStatement), opts, "SimpleStatement")
end })

--- Kinds of batch (the seed's BatchType).
query.BatchType = { LOGGED = 0, UNLOGGED = 1, COUNTER = 2 }

local BatchStatement = {}
BatchStatement.__index = BatchStatement
query.BatchStatement = BatchStatement

--- A batch: `BatchStatement{batch_type = BatchType.UNLOGGED,
-- consistency_level = ...}`; fill it with `add` and `add_all`.
setmetatable(BatchStatement, { __call = function(_, opts)
  opts = opts or {}
  local batch_type = opts.batch_type or query.BatchType.LOGGED
  if batch_type ~= 0 and batch_type ~= 1 and batch_type ~= 2 then
    error("bad option batch_type (BatchType.LOGGED, UNLOGGED or COUNTER expected)", 2)
  end
  local rest = {}
  for k, v in pairs(opts) do if k ~= "batch_type" then rest[k] = v end end
  return statement_options(setmetatable({ batch_type = batch_type, entries = {} }, BatchStatement),
                           rest, "BatchStatement")
end })

--- Adds a statement: CQL text (with `parameters` encoded client-side), a
-- SimpleStatement, a PreparedStatement (bound with `parameters`) or a
-- BoundStatement. Returns the batch.
function BatchStatement:add(statement, parameters)
  if #self.entries >= 0xFFFF then error("a batch holds at most 65535 statements", 2) end
  local mt = getmetatable(statement)
  if mt == query.PreparedStatement then
    statement, mt = statement:bind(parameters), query.BoundStatement
  end
  if mt == query.BoundStatement then
    self.entries[#self.entries + 1] = { bound = statement }
  else
    local text = mt == SimpleStatement and statement.query_string or statement
    if type(text) ~= "string" then
      error("bad argument #1 to 'add' (CQL string or statement expected, got " .. type(statement) .. ")", 2)
    end
    local ok, cql = pcall(require("cql.encoder").bind_params, text, parameters)
    if not ok then error("bad argument #2 to 'add' (" .. tostring(cql) .. ")", 2) end
    self.entries[#self.entries + 1] = { query = cql }
  end
  return self
end

--- Adds every statement of `statements`, with `parameters[i]` for the i-th.
function BatchStatement:add_all(statements, parameters)
  for i, st in ipairs(statements) do self:add(st, parameters and parameters[i]) end
  return self
end

--- Empties the batch (to reuse it).
function BatchStatement:clear()
  self.entries = {}
  return self
end

--- How many statements the batch holds.
function BatchStatement:size()
  return #self.entries
end

local PreparedStatement = {}
PreparedStatement.__index = PreparedStatement
query.PreparedStatement = PreparedStatement

local BoundStatement = {}
BoundStatement.__index = BoundStatement
query.BoundStatement = BoundStatement

--- Builds a PreparedStatement from a decoded PREPARED response (internal:
-- use `session:prepare`). Keeps the response alive: the markers' type
-- trees live in its arena.
function PreparedStatement.from_response(query_string, res, keyspace)
  local r = res.response.u.result
  local pm = r.prepared
  local self = setmetatable({
    query_string = query_string, keyspace = keyspace, response = res,
    query_id = ffi.string(r.id.p, r.id.len), column_metadata = {}, routing_key_indexes = {},
    is_idempotent = false,
  }, PreparedStatement)
  if r.result_metadata_id.p ~= nil then
    self.result_metadata_id = ffi.string(r.result_metadata_id.p, r.result_metadata_id.len)
  end
  for i = 0, pm.column_count - 1 do
    local col = pm.columns[i]
    self.column_metadata[i + 1] = {
      keyspace = cq_str(col.keyspace), table = cq_str(col.table), name = cq_str(col.name),
      type = cqltypes.wrap(col.type, res), ctype = col.type, encoder = codec.encoder(col.type),
    }
  end
  for i = 0, pm.pk_count - 1 do self.routing_key_indexes[i + 1] = pm.pk_indexes[i] end
  return self
end

--- Replaces the ids after the server re-prepared the statement.
function PreparedStatement:update_from(other)
  self.query_id, self.result_metadata_id, self.response = other.query_id, other.result_metadata_id,
    other.response
  self.column_metadata = other.column_metadata
end

local encoder = codec.new_encoder()

local function encode_body(col, v)
  return encoder:body(col.ctype, encoder:add(col.encoder, v))
end

-- Encodes one marker's value to a Lua string (nil for null, UNSET for unset).
-- The pcall calls a named function: a closure made per value would stop
-- LuaJIT's compiler.
local function encode_marker(col, i, v)
  if v == nil then return nil end
  if v == query.UNSET_VALUE then return v end
  encoder:reset()
  local ok, body = pcall(encode_body, col, v)
  if not ok then
    error(("bad argument #1 to 'bind' (marker %d '%s': %s)"):format(i, col.name, tostring(body)), 0)
  end
  return body
end

--- Binds values: an array (positional; `n` may mark trailing nils) or a
-- table keyed by marker name. Raises on a wrong count, an unknown name or
-- a value the marker's type cannot take, naming the marker.
function PreparedStatement:bind(values)
  local cols = self.column_metadata
  local bodies = { n = #cols }
  values = values or {}
  if type(values) ~= "table" then
    error("bad argument #1 to 'bind' (table of values expected, got " .. type(values) .. ")", 2)
  end
  local positional = values[1] ~= nil or (values.n ~= nil) or next(values) == nil
  if positional then
    local n = values.n or #values
    if n ~= #cols then
      error(("bad argument #1 to 'bind' (%d value(s) for %d marker(s) in '%s')")
        :format(n, #cols, self.query_string), 2)
    end
    for i, col in ipairs(cols) do bodies[i] = encode_marker(col, i, values[i]) end
  else
    local known = {}
    for i, col in ipairs(cols) do
      known[col.name] = true
      bodies[i] = encode_marker(col, i, values[col.name])
    end
    for k in pairs(values) do
      if not known[k] then
        error(("bad argument #1 to 'bind' (no marker named '%s' in '%s')"):format(tostring(k),
          self.query_string), 2)
      end
    end
  end
  return setmetatable({ prepared_statement = self, bodies = bodies,
                        consistency_level = self.consistency_level,
                        serial_consistency_level = self.serial_consistency_level,
                        fetch_size = self.fetch_size, timeout = self.timeout,
                        is_idempotent = self.is_idempotent, retry_policy = self.retry_policy,
                        custom_payload = self.custom_payload, trace = self.trace }, BoundStatement)
end

--- The routing key: the serialized partition key taken from the prepared
-- statement's partition-key markers (the composite encoding when there
-- are several), or nil when a component is null or unset.
function BoundStatement:routing_key()
  return require("cql.policies.load_balancing").routing_key(self)
end

--- The `cq_value[?]` of the bound values, and an anchor keeping the bytes
-- alive while the request is encoded.
function BoundStatement:values()
  local n = self.bodies.n
  local arr = ffi.new("cq_value[?]", math.max(n, 1))
  for i = 1, n do
    local b = self.bodies[i]
    if b == nil then
      arr[i - 1].len = -1
    elseif b == query.UNSET_VALUE then
      arr[i - 1].len = -2
    else
      arr[i - 1].p, arr[i - 1].len = b, #b
    end
  end
  return arr, n, self.bodies
end

local scratch, scratch_cap = nil, 0

-- Fills `arr` with the values of `bodies`.
local function fill_values(arr, bodies, n)
  for i = 1, n do
    local b, v = bodies[i], arr[i - 1]
    if b == nil then
      v.p, v.len = nil, -1
    elseif b == query.UNSET_VALUE then
      v.p, v.len = nil, -2
    else
      v.p, v.len = b, #b
    end
  end
end

--- Like `values`, for a request encoded before anything else runs (the
-- transport copies the values into the request at once): one array
-- serves every call, valid until the next, instead of one per request.
-- The statement keeps the bytes alive.
function BoundStatement:scratch_values()
  local bodies = self.bodies
  local n = bodies.n
  if n > scratch_cap then
    scratch_cap = math.max(n, 32)
    scratch = ffi.new("cq_value[?]", scratch_cap)
  end
  fill_values(scratch, bodies, n)
  return scratch, n
end

return query
