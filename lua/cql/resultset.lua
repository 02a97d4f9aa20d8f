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

-- Row decoders by result shape. Generating one (codec.row_decoder loads
-- Lua source) costs far more than decoding a small page, and most
-- responses repeat a shape seen before, so they are kept by a key made of
-- the column names and types. Decoders hold no reference to the response
-- they were built from (names are copied, types only read), so keeping
-- them is safe; the cache is emptied when full to stay bounded however
-- many shapes an application uses.
local CACHE_MAX = 256
local decoders, ndecoders = {}, 0
local key_parts = {}
local native_sig = {} -- type kind -> its part of a key, for kinds whose decoder is the kind's
for _, name in ipairs { "ASCII", "BIGINT", "BLOB", "BOOLEAN", "COUNTER", "DECIMAL", "DOUBLE", "FLOAT",
                        "INT", "TIMESTAMP", "UUID", "VARCHAR", "VARINT", "TIMEUUID", "INET", "DATE",
                        "TIME", "SMALLINT", "TINYINT", "DURATION" } do
  local kind = codec.type_kinds[name]
  native_sig[kind] = "#" .. kind
end

-- The decoder entry for the columns of `meta` (decoders per column, and
-- the row decoders made from them on first use), and the column names.
local function shape_of(meta, ncols)
  local names = {}
  for i = 0, ncols - 1 do
    local col = meta.columns[i]
    local name = cq_str(col.name)
    names[i + 1] = name
    local t = col.type
    key_parts[2 * i + 1] = name
    -- Other kinds (custom, collections, tuples, user types) by their full
    -- marshal class, which spells nested types and user type fields.
    key_parts[2 * i + 2] = native_sig[tonumber(t.kind)] or codec.type_class(t)
  end
  local key = table.concat(key_parts, "\0", 1, 2 * ncols)
  local entry = decoders[key]
  if not entry then
    local decs = {}
    for i = 0, ncols - 1 do decs[i + 1] = codec.decoder(meta.columns[i].type) end
    if ndecoders >= CACHE_MAX then decoders, ndecoders = {}, 0 end
    entry = { decs = decs, names = names }
    decoders[key], ndecoders = entry, ndecoders + 1
  end
  return entry, names
end

-- One page and one type array reused for every response: a page is turned
-- into Lua values before rows_of returns. A page far larger than usual is
-- released afterwards rather than kept for the life of the process.
local shared_page = ffi.gc(ffi.new("cq_rows_page"), C.cq_rows_free)
local shared_types, shared_types_n = nil, 0
local KEEP_CELLS = 32768 -- cells of 32 bytes: 1 MiB (a 5,000-row page of 6 columns)
local rows_err = ffi.new("char[256]")

-- Decodes a RESULT Rows response into Lua rows: keyed by column name, or
-- arrays for the tuple factory.
local function rows_of(res, factory)
  local r = res.response.u.result
  local meta = r.meta
  local ncols = meta.column_count
  local entry, names = shape_of(meta, ncols)
  if ncols > shared_types_n then
    shared_types_n = math.max(ncols, 16)
    shared_types = ffi.new("const cq_type *[?]", shared_types_n)
  end
  local types = shared_types
  for i = 0, ncols - 1 do types[i] = meta.columns[i].type end
  local page = shared_page
  if C.cq_rows_decode(page, types, ncols, r.row_count, r.rows, r.rows_len, rows_err, 256) ~= 0 then
    return nil, errors.ProtocolException { message = "malformed rows: " .. ffi.string(rows_err) }
  end
  local rowdec
  if factory ~= query.tuple_factory then
    rowdec = entry.keyed
    if not rowdec then
      rowdec = codec.row_decoder(entry.decs, entry.names)
      entry.keyed = rowdec
    end
  else
    rowdec = entry.tuple
    if not rowdec then
      rowdec = codec.row_decoder(entry.decs, nil)
      entry.tuple = rowdec
    end
  end
  local rows = codec.page_rows(page, rowdec)
  if page.cells.cap > KEEP_CELLS then C.cq_rows_free(page) end
  local paging_state
  if meta.paging_state.len > 0 then
    paging_state = ffi.string(meta.paging_state.p, meta.paging_state.len)
  end
  return rows, names, paging_state
end

--- Builds the ResultSet of a decoded response (cql.connection) with rows
-- made by `factory`; or returns nil and an error for malformed rows.
local function result_set(res, factory)
  local rows, names, paging_state, more, response, keyspace
  if res.kind == "rows" then
    rows, names, paging_state = rows_of(res, factory)
    if not rows then return nil, names end
    more, response = paging_state ~= nil, res
  elseif res.kind == "set_keyspace" then
    keyspace = cq_str(res.response.u.result.keyspace)
  end
  -- The fields the session sets (session, coordinator, fetch,
  -- attempted_hosts, custom_payload) are named here too, nil for now, so
  -- that the table is made at its final size rather than grown.
  return setmetatable({ current_rows = rows or {}, column_names = names or {}, warnings = res.warnings,
                        trace_id = res.trace_id, paging_state = paging_state,
                        has_more_pages = more, _response = response,
                        keyspace = keyspace, session = nil, coordinator = nil, fetch = nil,
                        attempted_hosts = nil, custom_payload = nil }, ResultSet)
end

-- The next page, fetched ahead while the caller reads the current one (see
-- rows); nil when none is under way for the current paging state.
local function take_prefetched(self)
  local f = self._prefetch
  if not f then return nil end
  self._prefetch = nil
  if self._prefetch_state ~= self.paging_state then return nil end
  local nxt = f:result()
  -- A failed fetch ahead (it may have timed out while nobody ran the loop)
  -- is simply made again: what the caller sees is the ordinary fetch's.
  return nxt
end

--- Fetches the next page into `current_rows`. Returns true, false when
-- there is no next page, or nil and an error.
function ResultSet:fetch_next_page()
  if not self.has_more_pages then return false end
  local nxt = take_prefetched(self)
  if not nxt then
    local f = require("cql.future").new(self.session.scheduler)
    self.fetch:fetch(self.paging_state, f)
    local err
    nxt, err = f:result()
    if not nxt then return nil, err end
  end
  self.current_rows, self.paging_state, self.has_more_pages, self._response =
    nxt.current_rows, nxt.paging_state, nxt.has_more_pages, nxt._response
  return true
end

-- Starts fetching the page after the current one, so that it is on its
-- way (or there) when the caller reaches the end of this one, as gocql
-- does. At most one page ahead: memory stays bounded.
local function prefetch(self)
  if self._prefetch or not self.has_more_pages or not self.fetch then return end
  local session = self.session
  local f = require("cql.future").new(session.scheduler)
  self._prefetch, self._prefetch_state = f, self.paging_state
  self.fetch:fetch(self.paging_state, f)
  -- Hosts that queue writes until the loop turns send it now; the loop
  -- may not turn before the caller finishes the page.
  local host = session.cluster and session.cluster.host
  if host and host.flush then host:flush() end
end

--- Iterates over every row of every page, fetching pages as it goes (only
-- one page is held at a time, and the next one is fetched once three
-- quarters of the current one have been read). If fetching a page fails,
-- the iterator returns `false, err` once and then stops:
--
--     for row, err in rs:rows() do
--       if not row then error(err) end
--       ...
--     end
function ResultSet:rows()
  local i, failed = 0, false
  local page, ahead_at = nil, -1
  return function()
    if failed then return nil end
    i = i + 1
    local rows = self.current_rows
    if rows ~= page then
      page = rows
      ahead_at = #rows - math.floor(#rows / 4)
    end
    local row = rows[i]
    if i == ahead_at and self.has_more_pages then prefetch(self) end
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
