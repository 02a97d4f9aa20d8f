--- The ORM (the seed's `cassandra.cqlengine`): models mapped onto tables,
-- query sets, batches and schema management, written with Lua spelling.
--
--    local cqlengine = require "cql.cqlengine"
--    local connection = require "cql.cqlengine.connection"
--    local columns = require "cql.cqlengine.columns"
--    local models = require "cql.cqlengine.models"
--    local management = require "cql.cqlengine.management"
--    local util = require "cql.util"
--
--    assert(connection.setup({"127.0.0.1"}, "app"))
--    local User = models.Model("User", {
--      __table_name = "users",
--      { "id", columns.UUID { primary_key = true, default = util.uuid4 } },
--      { "name", columns.Text { required = true } },
--      { "age", columns.Integer {} },
--    })
--    assert(management.sync_table(User))
--    local u = assert(User:create { name = "ada", age = 36 })
--    for v in User.objects:filter { id = u.id }:iter() do print(v.name) end
--
-- **Errors.** The driver's rule holds: misuse raises, runtime outcomes
-- return `nil, err`.
--
-- - Raised (a programming error, found before any query is sent):
--   `ModelDefinitionException` (a bad model), `ValidationError` (a value
--   that breaks a column's rule: the error names the model, the field and
--   the rule: `err.field`, `err.rule`), `QueryException` (a bad query set:
--   an unknown column, an ORDER BY on a non-clustering column...),
--   `PolymorphicModelException`, and plain `bad argument` errors. They are
--   raised as these error objects, so `pcall` callers can test
--   `err:is_a(cqlengine.ValidationError)`; `tostring(err)` is one line.
-- - Returned as `nil, err`: everything the server decides: the driver's
--   own errors (`InvalidRequest`, `Unavailable`, ...), `DoesNotExist` and
--   `MultipleObjectsReturned` from `get` (each model has its own
--   subclasses, `Model.DoesNotExist`), `LWTException` when a conditional
--   write was not applied (`err.existing` holds the row the server
--   returned, keyed by column name), and the `CQLEngineException` that
--   `management.sync_table` returns when the table on the server cannot be
--   evolved into the model without a destructive change.
-- @module cql.cqlengine
local errors = require "cql.errors"

local cqlengine = {}

--- Defines an error class in the style of `cql.errors` (callable with a
-- table of fields; `is_a` and `tostring` work): `errors.define_class`.
-- Used for the per-model DoesNotExist classes too.
-- @function error_class
-- @tparam string name
-- @param parent a class or nil
-- @tparam[opt] {string,...} fields structured fields shown by tostring
-- @return the class
cqlengine.error_class = errors.define_class

local class = cqlengine.error_class

--- The root of the ORM's errors.
cqlengine.CQLEngineException = class("CQLEngineException", nil)
--- A value breaks a column's rule: `model`, `field`, `rule` name them.
cqlengine.ValidationError = class("ValidationError", cqlengine.CQLEngineException, { "model", "field", "rule" })
--- A query set used wrongly (unknown column, bad operator...).
cqlengine.QueryException = class("QueryException", cqlengine.CQLEngineException)
--- `get` found no row (each model has a subclass, `Model.DoesNotExist`).
cqlengine.DoesNotExist = class("DoesNotExist", cqlengine.QueryException)
--- `get` found more than one row (each model has a subclass).
cqlengine.MultipleObjectsReturned = class("MultipleObjectsReturned", cqlengine.QueryException)
--- A lightweight transaction was not applied; `existing` is the row the
-- server returned (column name to value; empty when the row is absent).
cqlengine.LWTException = class("LWTException", cqlengine.CQLEngineException)
--- A model definition is wrong.
cqlengine.ModelException = class("ModelException", cqlengine.CQLEngineException)
cqlengine.ModelDefinitionException = class("ModelDefinitionException", cqlengine.ModelException)
--- Saving through a polymorphic base model, or an unknown discriminator.
cqlengine.PolymorphicModelException = class("PolymorphicModelException", cqlengine.ModelException)
--- A user type definition is wrong.
cqlengine.UserTypeDefinitionException = class("UserTypeDefinitionException", cqlengine.CQLEngineException)
--- No keyspace: neither the model nor `connection.setup` gives one.
cqlengine.UndefinedKeyspaceException = class("UndefinedKeyspaceException", cqlengine.CQLEngineException)

--- Raises an ORM error object (`err_class{message = ...}`), `level` frames
-- above the caller (as `error` counts).
-- @local
function cqlengine.raise(err_class, message, fields, level)
  local t = {}
  for k, v in pairs(fields or {}) do t[k] = v end
  t.message = message
  error(err_class(t), (level or 1) + 1)
end

--- The null of `update{...}` tables (instances and query sets), which
-- cannot hold nil: `user:update{email = cqlengine.NULL}` sets the column to
-- null, as the seed's `update(email=None)`.
cqlengine.NULL = require("cql.util.sentinels").NULL

--- Caching options for `__options.caching` (the seed's constants).
cqlengine.CACHING_ALL = { keys = "ALL", rows_per_partition = "ALL" }
cqlengine.CACHING_KEYS_ONLY = { keys = "ALL", rows_per_partition = "NONE" }
cqlengine.CACHING_ROWS_ONLY = { keys = "NONE", rows_per_partition = "ALL" }
cqlengine.CACHING_NONE = { keys = "NONE", rows_per_partition = "NONE" }

return cqlengine
