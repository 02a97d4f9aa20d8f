--- Results of requests (the seed's `cassandra.cluster.ResultSet`): the
-- rows of the current page, decoded into Lua values, with automatic paging
-- over the rest, column names and types, tracing and warnings.
-- @module cql.resultset
local ffi = require "ffi"
local core = require "cql.core"
local codec = require "cql.codec"
local errors = require "cql.errors"
local query = require "cql.query"

local C = core.C

local ResultSet = {}
-- column_types is computed on first use: most callers never need type
-- objects, and building them costs an allocation per column.
ResultSet.__index = function(rs, key)
  if key == "column_types" and rs._response then
    local r = rs._response.response.u.result
    local types = {}
    for i = 0, r.meta.column_count - 1 do
      types[i + 1] = require("cql.cqltypes").wrap(r.meta.columns[i].type, rs._response)
    end
    rawset(rs, "column_types", types)
    return types
  end
  return ResultSet[key]
end

local function cq_str(s)
  return s.p ~= nil and ffi.string(s.p, s.len) or nil
end

-- Decodes a RESULT Rows response into Lua rows: keyed by column name, or
-- arrays for the tuple factory.
local function rows_of(res, factory)
  local r = res.response.u.result
  local ncols = r.meta.column_count
  local names, decs = {}, {}
  local types = ffi.new("const cq_type *[?]", math.max(ncols, 1))
  for i = 0, ncols - 1 do
    local col = r.meta.columns[i]
    names[i + 1] = cq_str(col.name)
    decs[i + 1] = codec.decoder(col.type)
    types[i] = col.type
  end
  local page = ffi.gc(ffi.new("cq_rows_page"), C.cq_rows_free)
  local err = ffi.new("char[256]")
  if C.cq_rows_decode(page, types, ncols, r.row_count, r.rows, r.rows_len, err, 256) ~= 0 then
    return nil, errors.ProtocolException { message = "malformed rows: " .. ffi.string(err) }
  end
  local rows = codec.page_rows(page, codec.row_decoder(decs, factory ~= query.tuple_factory and names or nil))
  local paging_state
  if r.meta.paging_state.len > 0 then
    paging_state = ffi.string(r.meta.paging_state.p, r.meta.paging_state.len)
  end
  return rows, names, paging_state
end

--- Builds the ResultSet of a decoded response (cql.connection) with rows
-- made by `factory`; or returns nil and an error for malformed rows.
local function result_set(res, factory)
  local rs = setmetatable({ current_rows = {}, column_names = {}, warnings = res.warnings,
                            trace_id = res.trace_id }, ResultSet)
  if res.kind == "rows" then
    local rows, names, paging_state = rows_of(res, factory)
    if not rows then return nil, names end
    rs.current_rows, rs.column_names, rs.paging_state = rows, names, paging_state
    rs.has_more_pages = paging_state ~= nil
    rs._response = res
  elseif res.kind == "set_keyspace" then
    rs.keyspace = cq_str(res.response.u.result.keyspace)
  end
  return rs
end

--- Fetches the next page into `current_rows`. Returns true, false when
-- there is no next page, or nil and an error.
function ResultSet:fetch_next_page()
  if not self.has_more_pages then return false end
  local f = require("cql.future").new(self.session.scheduler)
  self.fetch(self.paging_state, f)
  local nxt, err = f:result()
  if not nxt then return nil, err end
  self.current_rows, self.paging_state, self.has_more_pages, self._response =
    nxt.current_rows, nxt.paging_state, nxt.has_more_pages, nxt._response
  return true
end

--- Iterates over every row of every page, fetching pages as it goes (only
-- one page is held at a time). If fetching a page fails, the iterator
-- returns `false, err` once and then stops:
--
--     for row, err in rs:rows() do
--       if not row then error(err) end
--       ...
--     end
function ResultSet:rows()
  local i, failed = 0, false
  return function()
    if failed then return nil end
    i = i + 1
    local row = self.current_rows[i]
    while row == nil and self.has_more_pages do
      local ok, err = self:fetch_next_page()
      if not ok then
        failed = true
        return false, err
      end
      i = 1
      row = self.current_rows[1]
    end
    return row
  end
end

--- The first row of the current page, or nil.
function ResultSet:one()
  return self.current_rows[1]
end

--- Every row of every remaining page, as an array; or nil and an error.
function ResultSet:all()
  local rows = {}
  for row, err in self:rows() do
    if not row then return nil, err end
    rows[#rows + 1] = row
  end
  return rows
end

--- The trace of a request run with `trace = true`: waits (up to
-- `max_wait` seconds, default 2) until the server has written it, then
-- returns `{ trace_id, request_type, duration (microseconds), coordinator,
-- parameters, started_at, client, events = { {description, source,
-- source_elapsed, thread_name}, ... } }`, or nil and an error
-- (TraceUnavailable when it is not complete in time).
function ResultSet:get_query_trace(max_wait)
  if not self.trace_id then
    error("get_query_trace: the request was not traced (run it with trace = true)", 2)
  end
  local util = require "cql.util"
  local id = util.UUID.from_bytes(self.trace_id)
  local session, waited, step = self.session, 0, 0.05
  max_wait = max_wait or 2
  while true do
    local rs, err = session:execute("SELECT * FROM system_traces.sessions WHERE session_id = %s", { id },
                                    { consistency_level = 1, trace = false })
    if not rs then return nil, err end
    local s = rs:one()
    if s and s.duration then
      local events, eerr = session:execute(
        "SELECT * FROM system_traces.events WHERE session_id = %s", { id }, { consistency_level = 1 })
      if not events then return nil, eerr end
      local list = {}
      for e in events:rows() do
        list[#list + 1] = { description = e.activity, source = e.source, source_elapsed = e.source_elapsed,
                            thread_name = e.thread }
      end
      return { trace_id = id, request_type = s.request, duration = s.duration, coordinator = s.coordinator,
               parameters = s.parameters, started_at = s.started_at, client = s.client, events = list }
    end
    if waited >= max_wait then
      return nil, errors.TraceUnavailable {
        message = ("the trace %s was not complete within %g seconds"):format(tostring(id), max_wait) }
    end
    require("cql.runtime").sleep(step)
    waited = waited + step
  end
end

--- For lightweight transactions: the `[applied]` column of the only row.
function ResultSet:was_applied()
  local row = self.current_rows[1]
  if #self.current_rows ~= 1 or row["[applied]"] == nil then
    error("was_applied needs a single-row result with an [applied] column", 2)
  end
  return row["[applied]"]
end

ResultSet.from_response = result_set
ResultSet.rows_of = rows_of
ResultSet.cq_str = cq_str

return ResultSet
