--- Running many statements at once, as the seed's `cassandra.concurrent`.
--
-- At most `concurrency` requests are in flight; results come back in the
-- order of the input, each as `{ success = true, result = ResultSet }` or
-- `{ success = false, result = err }`. With `raise_on_first_error` (the
-- default, as in the seed) the first failure stops starting new requests
-- and is returned as `nil, err`.
-- @module cql.concurrent
local Future = require "cql.future"

local concurrent = {}

local function run(session, count, statement_at, opts)
  opts = opts or {}
  local limit = opts.concurrency or 100
  if type(limit) ~= "number" or limit < 1 then
    error("bad option concurrency (positive number expected)", 3)
  end
  local stop_on_error = opts.raise_on_first_error ~= false
  local results, started, finished = {}, 0, 0
  local first_error
  local done = Future.new(session.scheduler)
  local start_next
  local function finish(i, ok, value)
    results[i] = { success = ok, result = value }
    finished = finished + 1
    if not ok and stop_on_error and not first_error then first_error = value end
    if finished == started and (started == count or first_error) then
      done:set_result()
    else
      start_next()
    end
  end
  function start_next()
    if first_error or started >= count then return end
    started = started + 1
    local i = started
    local statement, params = statement_at(i)
    session:execute_async(statement, params, opts.execute_options)
      :add_callbacks(function(rs) finish(i, true, rs) end, function(err) finish(i, false, err) end)
  end
  if count == 0 then return results end
  for _ = 1, math.min(limit, count) do start_next() end
  done:result()
  if first_error then return nil, first_error end
  return results
end

--- Runs `statements_and_parameters`, an array of `{statement, parameters}`.
-- Options: concurrency (100), raise_on_first_error (true), execute_options.
function concurrent.execute_concurrent(session, statements_and_parameters, opts)
  if type(statements_and_parameters) ~= "table" then
    error("bad argument #2 to 'execute_concurrent' (array of {statement, parameters} expected)", 2)
  end
  return run(session, #statements_and_parameters, function(i)
    local pair = statements_and_parameters[i]
    return pair[1], pair[2]
  end, opts)
end

--- Runs one statement once per element of `parameters` (an array of
-- parameter arrays or tables).
function concurrent.execute_concurrent_with_args(session, statement, parameters, opts)
  if type(parameters) ~= "table" then
    error("bad argument #3 to 'execute_concurrent_with_args' (array of parameters expected)", 2)
  end
  return run(session, #parameters, function(i) return statement, parameters[i] end, opts)
end

return concurrent
