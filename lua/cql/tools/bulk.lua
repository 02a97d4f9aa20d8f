--- `cqlua unload` / `cqlua load`: bulk export and import of a table as CSV
-- or JSON Lines.
--
-- Unload scans the token ring: the ranges between the hosts' tokens, each
-- split further (`splits` pieces in all), are read with
-- `SELECT ... WHERE token(pk) > ? AND token(pk) <= ?` on one of the
-- range's replicas (the request's `host` option), at most `concurrency`
-- ranges at once. Each range is written to its own part file in `OUTPUT.parts/`,
-- renamed when complete and listed in `OUTPUT.parts/checkpoint`; at the
-- end the parts are joined in ring order into OUTPUT and the directory is
-- removed. Run the same command again after an interruption and finished
-- ranges are skipped: the result is byte for byte the file an
-- uninterrupted run writes (rows of a range come in token order).
--
-- Load reads CSV (a header line names the columns, unless --columns) or
-- JSON Lines (one object per line, keys are column names), converts each
-- field by the column's type (`cql.tools.convert`), and inserts with a
-- prepared statement, `concurrency` at once, retrying timeouts,
-- unavailability and connection failures (`retries` times, with backoff).
-- A record that cannot be parsed, converted, or written is appended to the
-- reject file (JSON Lines: line, reason, record); every record is counted
-- as loaded or rejected, and the exit status is 1 when any was rejected.
-- In CSV, an empty unquoted field is unset (no value written), "" is the
-- empty string; in JSON a missing key is unset and null is null.
-- @module cql.tools.bulk
local ffi = require "ffi"
local common = require "cql.tools.common"
local csv = require "cql.tools.csv"
local format = require "cql.tools.format"
local convert = require "cql.tools.convert"
local progress = require "cql.tools.progress"
local query = require "cql.query"
local runtime = require "cql.runtime"
local cql = require "cql"

local M = {}

local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
local MIN_TOKEN = int64_t(-9223372036854775807LL - 1)
local MAX_TOKEN = int64_t(9223372036854775807LL)
local concat = table.concat

local function i64s(v) return (tostring(int64_t(v)):gsub("LL$", "")) end

--- The token ranges to scan: `{lo, hi}` (int64, lo exclusive, hi
-- inclusive) covering the ring once, from the ring's tokens, each range
-- split into pieces so that there are about `splits` in all.
function M.ranges(ring_tokens, splits)
  local points = { MIN_TOKEN }
  for _, t in ipairs(ring_tokens or {}) do
    if t ~= MIN_TOKEN and t ~= MAX_TOKEN then points[#points + 1] = int64_t(t) end
  end
  points[#points + 1] = MAX_TOKEN
  local primary = #points - 1
  local k = math.max(1, math.ceil((splits or 1) / primary))
  local out = {}
  for i = 1, primary do
    local a, b = points[i], points[i + 1]
    local width = ffi.cast(uint64_t, b) - ffi.cast(uint64_t, a)
    local step = width / k
    if step == 0 then step, k = width, 1 end
    local lo = a
    for j = 1, k do
      local hi = j == k and b or ffi.cast(int64_t, ffi.cast(uint64_t, a) + step * j)
      out[#out + 1] = { lo = lo, hi = hi }
      lo = hi
    end
  end
  return out
end

local RETRYABLE = { WriteTimeout = true, ReadTimeout = true, Unavailable = true, OperationTimedOut = true,
                    OverloadedErrorMessage = true, Overloaded = true, ConnectionShutdown = true,
                    ConnectionException = true, ConnectionBusy = true, NoHostAvailable = true,
                    IsBootstrappingErrorMessage = true, IsBootstrapping = true, ServerError = true,
                    ReadFailure = true, WriteFailure = true, CoordinatorException = true }
local function retryable(err)
  return type(err) == "table" and RETRYABLE[err.name] or false
end
M.retryable = retryable

local function file_exists(p)
  local f = io.open(p, "rb")
  if f then f:close() end
  return f ~= nil
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Parses `SELECT cols FROM name [WHERE cond] [ALLOW FILTERING]`.
local function parse_select(s)
  s = s:gsub(";%s*$", ""):match("^%s*(.-)%s*$")
  local cols, name, rest = s:match("^[Ss][Ee][Ll][Ee][Cc][Tt]%s+(.-)%s+[Ff][Rr][Oo][Mm]%s+([%w_.\"]+)%s*(.*)$")
  if not cols then return nil, "expected SELECT columns FROM table [WHERE ...] [ALLOW FILTERING]" end
  local allow = false
  local r2 = rest:gsub("%s*[Aa][Ll][Ll][Oo][Ww]%s+[Ff][Ii][Ll][Tt][Ee][Rr][Ii][Nn][Gg]%s*$", "")
  if r2 ~= rest then allow, rest = true, r2 end
  local where = rest:match("^[Ww][Hh][Ee][Rr][Ee]%s+(.+)$")
  if rest ~= "" and not where then return nil, "unsupported clause in --query: " .. rest end
  return { columns = cols, name = name, where = where, allow_filtering = allow }
end

--- Unloads a table (or a SELECT); returns a summary table or nil, err.
-- opts: keyspace, table, query, output, format ("csv" or "json"),
-- concurrency (4), splits (max(64, 8 x concurrency)), fetch_size (5000),
-- consistency (LOCAL_ONE), header (true), retries (3), progress (a
-- progress object, or false), max_ranges (stop after this many ranges:
-- for tests of resuming).
function M.unload(cluster, session, opts)
  local fmt = opts.format or "csv"
  local sel
  if opts.query then
    local err
    sel, err = parse_select(opts.query)
    if not sel then return nil, err end
    local ks, t = common.split_name(sel.name)
    opts.keyspace, opts.table = ks or opts.keyspace or session.keyspace, t
  end
  if not opts.keyspace then return nil, "no keyspace: give ks.table" end
  local md, merr = common.metadata(cluster, session, true)
  if not md then return nil, merr end
  local tm = md:get_table(opts.keyspace, opts.table)
  if not tm then return nil, ("no table %s.%s"):format(opts.keyspace, opts.table) end
  local pk = {}
  for i, c in ipairs(tm.partition_key) do pk[i] = common.quote_ident(c.name) end
  local cols = {}
  for i, c in ipairs(tm.column_order) do cols[i] = common.quote_ident(c.name) end
  local tok = "token(" .. concat(pk, ", ") .. ")"
  local cql_text = ("SELECT %s FROM %s.%s WHERE %s%s > ? AND %s <= ?%s"):format(
    sel and sel.columns or concat(cols, ", "), common.quote_ident(opts.keyspace), common.quote_ident(opts.table),
    sel and sel.where and (sel.where .. " AND ") or "", tok, tok,
    sel and sel.allow_filtering and " ALLOW FILTERING" or "")
  local ps, perr = session:prepare(cql_text)
  if not ps then return nil, perr end

  local concurrency = opts.concurrency or 4
  local parts = opts.output .. ".parts"
  local plan_file = parts .. "/plan"
  local ranges
  local identity = ("%s|%s|%s"):format(fmt, cql_text, opts.header == false and "noheader" or "header")
  local done = {}
  local resumed = 0
  if file_exists(plan_file) then
    local f = assert(io.open(plan_file, "r"))
    local first = f:read("*l")
    if first ~= identity then
      f:close()
      return nil, ("%s holds the checkpoint of a different unload (%s); remove it to start afresh")
        :format(parts, tostring(first))
    end
    ranges = {}
    for l in f:lines() do
      local lo, hi = l:match("^(%-?%d+) (%-?%d+)$")
      ranges[#ranges + 1] = { lo = require("cql.metadata.token_map").parse_token(lo),
                              hi = require("cql.metadata.token_map").parse_token(hi) }
    end
    f:close()
    local c = io.open(parts .. "/checkpoint", "r")
    if c then
      for l in c:lines() do
        local i = tonumber(l:match("^(%d+) "))
        if i and file_exists(("%s/%06d.part"):format(parts, i)) and not done[i] then
          done[i] = true
          resumed = resumed + 1
        end
      end
      c:close()
    end
  else
    local ok = os.execute("mkdir -p " .. q(parts))
    if ok ~= 0 and ok ~= true then return nil, "cannot create " .. parts end
    ranges = M.ranges(md.token_map and md.token_map.ring, opts.splits or math.max(64, 8 * concurrency))
    local f, ferr = io.open(plan_file .. ".tmp", "w")
    if not f then return nil, ferr end
    f:write(identity, "\n")
    for _, r in ipairs(ranges) do f:write(i64s(r.lo), " ", i64s(r.hi), "\n") end
    f:close()
    os.rename(plan_file .. ".tmp", plan_file)
  end
  local ckpt, cerr = io.open(parts .. "/checkpoint", "a")
  if not ckpt then return nil, cerr end

  -- Column names and types, from an empty range.
  local probe, probe_err = session:execute(ps, { 0, 0 })
  if not probe then return nil, probe_err end
  local names, types = probe.column_names, probe.column_types
  local ncols = #names
  local jnames = {}
  for i, n in ipairs(names) do jnames[i] = format.json_string(n) .. ":" end

  local text, json = format.text, format.json
  local function line_of(row)
    local parts_ = {}
    if fmt == "csv" then
      for i = 1, ncols do
        local v = row[i]
        parts_[i] = v == nil and "" or csv.field(text(v, types[i]))
      end
      return concat(parts_, ",")
    end
    local n = 0
    for i = 1, ncols do
      local v = row[i]
      if v ~= nil then
        n = n + 1
        parts_[n] = jnames[i] .. json(v, types[i])
      end
    end
    return "{" .. concat(parts_, ",") .. "}"
  end

  local prog = opts.progress ~= false and (opts.progress or progress.new("unload " .. opts.keyspace .. "."
    .. opts.table)) or nil
  local total_rows, finished = 0, resumed
  local ks = opts.keyspace
  local tmap = md.token_map
  local retries = opts.retries or 3
  local failure
  local next_index = 0
  local stop_after = opts.max_ranges

  local function scan(i, r)
    local replicas = tmap and tmap:get_replicas_for_token(ks, r.hi) or {}
    local up = {}
    for _, h in ipairs(replicas) do if h.is_up ~= false then up[#up + 1] = h end end
    local tmp, final = ("%s/%06d.tmp"):format(parts, i), ("%s/%06d.part"):format(parts, i)
    local last_err
    for attempt = 1, retries + 1 do
      local f, ferr = io.open(tmp, "wb")
      if not f then return nil, ferr end
      local bound = ps:bind({ r.lo, r.hi })
      local rs, err = session:execute(bound, nil, { fetch_size = opts.fetch_size or 5000,
                                                   host = #up > 0 and up[(i + attempt) % #up + 1] or nil,
                                                   consistency_level = opts.consistency or 10, timeout = 30 })
      local count = 0
      while rs do
        local lines = {}
        local page = rs.current_rows
        for k = 1, #page do lines[k] = line_of(page[k]) end
        if #lines > 0 then f:write(concat(lines, "\n"), "\n") end
        count = count + #page
        total_rows = total_rows + #page
        if prog then prog:update(total_rows, finished, #ranges) end
        if not rs.has_more_pages then break end
        local ok, perr2 = rs:fetch_next_page()
        if not ok then
          rs, err = nil, perr2
        end
      end
      f:close()
      if rs then
        local ok, rerr = os.rename(tmp, final)
        if not ok then return nil, rerr end
        ckpt:write(i, " ", count, "\n")
        ckpt:flush()
        return count
      end
      total_rows = total_rows - count
      last_err = err
      if not retryable(err) then break end
      runtime.sleep(math.min(0.1 * 2 ^ attempt, 2))
    end
    return nil, ("range %d (%s, %s]: %s"):format(i, i64s(r.lo), i64s(r.hi), common.errmsg(last_err))
  end

  local started = 0
  local function worker()
    while not failure do
      next_index = next_index + 1
      local i = next_index
      if i > #ranges then return end
      if not done[i] then
        if stop_after and started >= stop_after then return end
        started = started + 1
        local n, err = scan(i, ranges[i])
        if not n then
          failure = err
          return
        end
        finished = finished + 1
        if prog then prog:update(total_rows, finished, #ranges) end
      end
    end
  end
  local cpu0 = common.cpu()
  local futures = {}
  for w = 1, concurrency do futures[w] = runtime.spawn(worker) end
  for _, f in ipairs(futures) do
    local ok, err = f:result()
    if not ok and err and not failure then failure = tostring(err) end
  end
  ckpt:close()
  if failure then
    if prog then prog:finish(" (stopped)") end
    return nil, failure .. (" (%d of %d ranges are done; run the same command again to resume)")
      :format(finished, #ranges)
  end
  if finished < #ranges then
    if prog then prog:finish(" (partial)") end
    return { rows = total_rows, ranges = finished, total_ranges = #ranges, partial = true }
  end
  -- Join the parts in ring order.
  local out, oerr = io.open(opts.output .. ".tmp", "wb")
  if not out then return nil, oerr end
  if fmt == "csv" and opts.header ~= false then out:write(csv.line(names, ncols), "\n") end
  local rows_in_file = 0
  for i = 1, #ranges do
    local p = assert(io.open(("%s/%06d.part"):format(parts, i), "rb"))
    while true do
      local chunk = p:read(1048576)
      if not chunk then break end
      out:write(chunk)
    end
    p:close()
  end
  out:close()
  local c = io.open(parts .. "/checkpoint", "r")
  for l in c:lines() do rows_in_file = rows_in_file + (tonumber(l:match(" (%d+)$")) or 0) end
  c:close()
  os.rename(opts.output .. ".tmp", opts.output)
  os.execute("rm -rf " .. q(parts))
  local elapsed = prog and prog:finish((", %d ranges%s, %s"):format(#ranges,
    resumed > 0 and (" (" .. resumed .. " resumed)") or "", opts.output)) or 0
  return { rows = rows_in_file, rows_this_run = total_rows, ranges = #ranges, resumed = resumed,
           elapsed = elapsed, cpu = common.cpu() - cpu0 }
end

--- Loads a file into a table; returns a summary (loaded, rejected,
-- records, reject_file) or nil, err. opts: keyspace, table, input,
-- format, columns (array; else the CSV header / the table's columns for
-- JSON), concurrency (32), retries (5), rejects (file; default
-- INPUT.rejects), max_rejects (stop after more than this many), consistency
-- (LOCAL_ONE), batch_size (32: consecutive rows of one partition per
-- UNLOGGED batch), progress.
function M.load(cluster, session, opts)
  local fmt = opts.format or "csv"
  local md, merr = common.metadata(cluster, session, true)
  if not md then return nil, merr end
  local tm = md:get_table(opts.keyspace, opts.table)
  if not tm then return nil, ("no table %s.%s"):format(tostring(opts.keyspace), tostring(opts.table)) end
  local input, ierr = io.open(opts.input, "rb")
  if not input then return nil, ierr end
  local size = input:seek("end")
  input:seek("set", 0)
  local bytes = 0
  local function next_line()
    local l = input:read("*l")
    if l then bytes = bytes + #l + 1 end
    return l
  end
  local reader = fmt == "csv" and csv.reader(next_line) or nil
  local lineno = 0
  local columns = opts.columns
  if fmt == "csv" and not columns then
    local header, _, _, raw = reader()
    if not header then
      input:close()
      return nil, header == nil and "empty input (a header line naming the columns was expected)"
        or ("bad header: " .. tostring(raw))
    end
    columns = {}
    for i, h in ipairs(header) do columns[i] = h:match("^%s*(.-)%s*$") end
  end
  if not columns then
    columns = {}
    for i, c in ipairs(tm.column_order) do columns[i] = c.name end
  end
  local index = {}
  local qcols, marks = {}, {}
  for i, c in ipairs(columns) do
    if not tm.columns[c] then
      input:close()
      return nil, ("table %s.%s has no column '%s'"):format(opts.keyspace, opts.table, c)
    end
    index[c] = i
    qcols[i], marks[i] = common.quote_ident(c), "?"
  end
  local ps, perr = session:prepare(("INSERT INTO %s.%s (%s) VALUES (%s)"):format(common.quote_ident(opts.keyspace),
    common.quote_ident(opts.table), concat(qcols, ", "), concat(marks, ", ")))
  if not ps then
    input:close()
    return nil, perr
  end
  local convs = {}
  for i, cm in ipairs(ps.column_metadata) do convs[i] = convert.converter(cm.type) end
  local ncols = #columns
  local UNSET = query.UNSET_VALUE

  local reject_path = opts.rejects or (opts.input .. ".rejects")
  local rejects_f
  local rejected, loaded, records = 0, 0, 0
  local function reject(line, reason, raw)
    rejected = rejected + 1
    if not rejects_f then
      local err
      rejects_f, err = io.open(reject_path, "w")
      if not rejects_f then error("cannot write the reject file " .. reject_path .. ": " .. tostring(err), 0) end
    end
    rejects_f:write(("{\"line\":%d,\"reason\":%s,\"record\":%s}\n"):format(line, format.json_string(
      common.errmsg(reason)), format.json_string(raw or "")))
  end

  -- The next record as {values, line, raw}, or nil at the end; rejects
  -- what cannot be parsed or converted on the way.
  local function next_record()
    while true do
      local values = { n = ncols }
      if fmt == "csv" then
        local fields, quoted, line, raw = reader()
        if fields == nil then return nil end
        lineno = line
        records = records + 1
        if fields == false then
          reject(line, quoted, raw)
        elseif #fields ~= ncols and not (#fields == 1 and fields[1] == "" and not quoted[1]) then
          reject(line, ("%d fields, %d expected"):format(#fields, ncols), raw)
        elseif #fields == 1 and fields[1] == "" and ncols > 1 then
          records = records - 1 -- a blank line is not a record
        else
          local ok, err = pcall(function()
            for i = 1, ncols do
              local f = fields[i]
              if f == "" and not quoted[i] then
                values[i] = UNSET
              else
                local okc, v = pcall(convs[i], f)
                if not okc then error(("column %s: %s"):format(columns[i], v), 0) end
                values[i] = v
              end
            end
          end)
          if ok then return values, line, raw end
          reject(line, err, raw)
        end
      else
        local l = next_line()
        if l == nil then return nil end
        lineno = lineno + 1
        if l:match("%S") then
          records = records + 1
          local ok, err = pcall(function()
            local obj = format.decode(l)
            if type(obj) ~= "table" or obj.n or getmetatable(obj) == format.JsonNumber then
              error("a JSON object expected", 0)
            end
            for i = 1, ncols do values[i] = UNSET end
            for k, v in pairs(obj) do
              local i = index[k]
              if not i then error(("no column '%s' in %s.%s"):format(k, opts.keyspace, opts.table), 0) end
              if v == format.null then
                values[i] = nil
              else
                local okc, cv = pcall(convs[i], v)
                if not okc then error(("column %s: %s"):format(k, cv), 0) end
                values[i] = cv
              end
            end
          end)
          if ok then return values, lineno, l end
          reject(lineno, err, l)
        end
      end
      if opts.max_rejects and rejected > opts.max_rejects then return nil end
    end
  end

  local prog = opts.progress ~= false and (opts.progress or progress.new("load " .. opts.keyspace .. "."
    .. opts.table)) or nil
  local retries = opts.retries or 5
  local eopts = { consistency_level = opts.consistency or 10, timeout = opts.timeout or 30 }
  local batch_size = opts.batch_size or 32
  local pk_idx = {}
  for i, ix in ipairs(ps.routing_key_indexes) do pk_idx[i] = ix + 1 end
  local fatal

  -- The next bound record {bound, key, line, raw}; rejects what cannot be bound.
  local pending
  local function next_bound()
    if pending then
      local p = pending
      pending = nil
      return p
    end
    while true do
      local values, line, raw = next_record()
      if not values then return nil end
      local okb, bound = pcall(ps.bind, ps, values)
      if okb then
        local key = {}
        for i, ix in ipairs(pk_idx) do
          local b = bound.bodies[ix]
          key[i] = type(b) == "string" and b or "\0null"
        end
        return { bound = bound, key = concat(key, "\0\0"), line = line, raw = raw }
      end
      reject(line, (tostring(bound):gsub("^bad argument #1 to 'bind' %((.*)%)$", "%1")), raw)
      if prog then prog:update(loaded, bytes, size) end
    end
  end

  -- Runs a statement with retries; returns true or nil, err, attempts.
  local function run(st)
    local attempt = 0
    while true do
      local rs, err = session:execute(st, nil, eopts)
      if rs then return true end
      attempt = attempt + 1
      if not retryable(err) or attempt > retries then return nil, err, attempt end
      runtime.sleep(math.min(0.05 * 2 ^ attempt, 2))
    end
  end
  local function run_one(r)
    local ok, err, attempts = run(r.bound)
    if ok then
      loaded = loaded + 1
    else
      reject(r.line, (attempts > 1 and ("after %d attempts: "):format(attempts) or "") .. common.errmsg(err), r.raw)
    end
  end

  -- Consecutive records of one partition go in one UNLOGGED batch (one
  -- mutation for the server); a batch that fails for a reason other than
  -- a retryable one is run row by row, so each bad row gets its reason.
  local function worker()
    while not fatal do
      if opts.max_rejects and rejected > opts.max_rejects then return end
      local first = next_bound()
      if not first then return end
      local group = { first }
      while #group < batch_size and #pk_idx > 0 do
        local nxt = next_bound()
        if not nxt then break end
        if nxt.key ~= first.key then
          pending = nxt
          break
        end
        group[#group + 1] = nxt
      end
      if #group == 1 then
        run_one(first)
      else
        local batch = query.BatchStatement { batch_type = query.BatchType.UNLOGGED }
        for _, r in ipairs(group) do batch:add(r.bound) end
        local ok, err = run(batch)
        if ok then
          loaded = loaded + #group
        elseif retryable(err) then
          for _, r in ipairs(group) do
            reject(r.line, "after " .. (retries + 1) .. " attempts (in a batch): " .. common.errmsg(err), r.raw)
          end
        else
          for _, r in ipairs(group) do run_one(r) end
        end
      end
      if prog then prog:update(loaded, bytes, size) end
    end
  end
  local cpu0 = common.cpu()
  local futures = {}
  for w = 1, opts.concurrency or 32 do futures[w] = runtime.spawn(worker) end
  for _, f in ipairs(futures) do
    local ok, err = f:result()
    if not ok and err and not fatal then fatal = tostring(err) end
  end
  input:close()
  if rejects_f then rejects_f:close() end
  local stopped = opts.max_rejects and rejected > opts.max_rejects
  local summary = { loaded = loaded, rejected = rejected, records = records, reject_file = rejected > 0 and reject_path,
                    cpu = common.cpu() - cpu0, stopped = stopped or nil }
  summary.elapsed = prog and prog:finish((", %d rejected%s"):format(rejected,
    rejected > 0 and (" (see " .. reject_path .. ")") or "")) or 0
  if fatal then return nil, fatal end
  if stopped then
    return nil, ("stopped after %d rejected records (--max-rejects %d); %d loaded, see %s")
      :format(rejected, opts.max_rejects, loaded, reject_path)
  end
  return summary
end

M.USAGE = [[
usage: cqlua [connection flags] unload KS.TABLE -o FILE [options]
       cqlua [connection flags] unload --query "SELECT cols FROM ks.t [WHERE ...]" -o FILE [options]
       cqlua [connection flags] load KS.TABLE -i FILE [options]
common:  --format csv|json   CSV with a header line (default) or JSON Lines
         --concurrency N     ranges (unload, default 4) / rows (load, default 32) in flight
         --consistency LEVEL (default LOCAL_ONE)
         --quiet             no progress display
unload:  --splits N          token ranges to scan (default max(64, 8 x concurrency))
         --fetch-size N      rows per page (5000)
         --no-header         no CSV header line
         --max-ranges N      stop after N ranges (resume later by running the same command)
load:    --columns a,b,c     the columns of the fields (then the CSV has no header line)
         --retries N         retries of timeouts/unavailable/connection errors per row (5)
         --rejects FILE      rejected records (default INPUT.rejects): {"line","reason","record"} per line
         --max-rejects N     stop once more than N records were rejected
         --batch-size N      consecutive rows of one partition sent as one UNLOGGED batch (32; 1: none)
Unload writes FILE.parts/ while running; an interrupted unload resumes when run again.]]

--- The `cqlua unload` / `cqlua load` subcommands; returns an exit status.
function M.main(args, name)
  local a = {}
  for i, v in ipairs(args) do a[i] = (v == "-o" and "--output") or (v == "-i" and "--input") or v end
  local opts, perr = common.parse_args(a, {
    ["--output"] = "value", ["--input"] = "value", ["--format"] = "value", ["--concurrency"] = "value",
    ["--consistency"] = "value", ["--splits"] = "value", ["--fetch-size"] = "value", ["--no-header"] = "flag",
    ["--max-ranges"] = "value", ["--columns"] = "value", ["--retries"] = "value", ["--rejects"] = "value",
    ["--max-rejects"] = "value", ["--query"] = "value", ["--quiet"] = "flag", ["--help"] = "flag",
    ["--batch-size"] = "value",
  })
  local function usage(msg)
    io.stderr:write("cqlua ", name, ": ", msg, "\n", M.USAGE, "\n")
    return 2
  end
  if not opts then return usage(perr) end
  if opts.help then
    print(M.USAGE)
    return 0
  end
  local o = { format = opts.format or "csv", header = not opts.no_header, query = opts.query }
  if opts.quiet then o.progress = false end
  if o.format ~= "csv" and o.format ~= "json" then return usage("--format is csv or json") end
  for _, k in ipairs { "concurrency", "splits", "fetch_size", "max_ranges", "retries", "max_rejects", "batch_size" } do
    if opts[k] then
      local v = tonumber(opts[k])
      if not v or v < 0 or v % 1 ~= 0 or (v == 0 and k ~= "retries" and k ~= "max_rejects") then
        return usage("bad --" .. k:gsub("_", "-") .. " '" .. opts[k] .. "'")
      end
      o[k] = v
    end
  end
  if opts.consistency then
    o.consistency = cql.ConsistencyLevel[opts.consistency:upper()]
    if not o.consistency then return usage("unknown consistency level " .. opts.consistency) end
  end
  if opts.columns then
    o.columns = {}
    for c in opts.columns:gmatch("[^,%s]+") do o.columns[#o.columns + 1] = c end
  end
  if not o.query then
    if #opts ~= 1 then return usage("one table (KS.TABLE) expected") end
    o.keyspace, o.table = common.split_name(opts[1])
    if not o.keyspace then return usage("the table must be given as KS.TABLE") end
  elseif #opts > 0 then
    return usage("--query and a table name exclude each other")
  end
  if name == "unload" then
    if not opts.output then return usage("-o FILE expected") end
    o.output = opts.output
  else
    if not opts.input then return usage("-i FILE expected") end
    if o.query then return usage("--query is for unload") end
    o.input, o.rejects, o.max_rejects = opts.input, opts.rejects, o.max_rejects
  end
  local cluster, session = common.connect()
  if not cluster then
    io.stderr:write("cqlua ", name, ": cannot connect: ", common.errmsg(session), "\n")
    return 1
  end
  local summary, err
  if name == "unload" then
    session.row_factory = query.tuple_factory
    summary, err = M.unload(cluster, session, o)
  else
    summary, err = M.load(cluster, session, o)
  end
  cluster:shutdown()
  if not summary then
    io.stderr:write("cqlua ", name, ": ", common.errmsg(err), "\n")
    return 1
  end
  local cpu_us = summary.cpu and (summary.cpu * 1e6 / math.max(summary.rows_this_run or summary.loaded or 1, 1))
  if name == "unload" then
    if summary.partial then
      print(("unloaded %d of %d ranges (%d rows); run again to finish"):format(summary.ranges, summary.total_ranges,
                                                                              summary.rows))
    else
      print(("unloaded %d rows (%d ranges, %d resumed) to %s; client cpu %.2f s (%.1f us/row)"):format(
        summary.rows, summary.ranges, summary.resumed, o.output, summary.cpu, cpu_us))
    end
    return 0
  end
  print(("loaded %d of %d records, %d rejected%s; client cpu %.2f s (%.1f us/row)"):format(summary.loaded,
    summary.records, summary.rejected, summary.reject_file and (" (see " .. summary.reject_file .. ")") or "",
    summary.cpu, cpu_us))
  return summary.rejected > 0 and 1 or 0
end

return M
