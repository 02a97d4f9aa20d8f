--- A scriptable CQL test server, for faults a real Cassandra will not
-- produce on demand (timeouts with chosen fields, delays, closes mid-request,
-- garbage, version refusals, authentication failures).
--
--     luajit spec/support/cql_test_server.lua --port P --script FILE
--       [--address A (127.0.0.1)] [--max-seconds N (120)] [--parent-pid PID]
--       [--max-version V] [--verbose]
--
-- LUA_PATH must include lua/ and spec/support/, CQLUA_LIB the shared
-- library. It listens on one IPv4 address (several servers on different
-- loopback addresses and one port make a cluster); --port 0 lets the
-- system pick a port. Once listening it prints "LISTENING <port>" on stdout. It exits by
-- itself after --max-seconds, when --parent-pid (or, without it, its parent
-- process) is gone, and on SIGTERM (the default action: no handler is
-- installed, so nothing can swallow it).
--
-- Every encode and decode goes through the C core (cq_request_decode,
-- cq_response_encode, the frame reader and writer, v5 segments), so the
-- server speaks exactly the codec the driver uses; I/O is luasocket with
-- non-blocking sockets and socket.select.
--
-- The script is a Lua file returning a table: its array part (or its
-- `rules` field) holds the rules, tried in order; options sit beside them:
--
--     return {
--       max_version = 4,                       -- refuse v5 as Cassandra 3.x would
--       auth = { username = "u", password = "p" }, -- answer STARTUP with AUTHENTICATE
--       { when = { opcode = "QUERY", query = "^SELECT v FROM t" },
--         ["then"] = { delay_ms = 50, rows = { columns = { { "v", "int" } }, rows = { { 1 }, { 2 } } } } },
--       { when = { query = "INSERT" }, reply = { error = { code = "WriteTimeout", consistency = "QUORUM",
--         received = 1, block_for = 2, write_type = "SIMPLE" } }, times = 1 },
--     }
--
-- `then` is a Lua keyword, so a rule spells it `["then"] = ...` or `reply = ...`.
-- when: opcode ("QUERY", "PREPARE", "EXECUTE", "BATCH"; nil: any of them),
--   query (a Lua pattern on the query text; PREPARE and EXECUTE match the
--   prepared text, BATCH matches when any statement does).
-- then: a table, or a function(req) returning one (req: opcode, query,
--   captures, version, stream, consistency, values, id); with fields
--   rows = { columns = { {name, cqltype}, ... }, rows = { {v1, v2}, ... },
--            keyspace, table, paging_state }
--   void = true | set_keyspace = "ks"
--   error = { code = number or name ("Unavailable", "read_timeout", ...),
--             message, consistency (number or name), required, alive, received,
--             block_for, write_type, data_present, num_failures, reasons,
--             keyspace, table, ["function"], arg_types, contentions }
--   close = true (close without answering), garbage = true or bytes,
--   no_answer = true, unprepared = true (EXECUTE: UNPREPARED once, then the
--   rest of the rule or, without an answer in it, the rules below),
--   delay_ms = N (before any of the above; combinable),
--   warnings = { "text", ... } (server warnings on the answer, v4+),
--   bind / columns (PREPARE: bind markers and result columns).
-- A rule with times = N applies N times only. Without a matching answer the
-- built-in defaults answer: SELECT ... FROM system.local one row, other
-- SELECTs no rows, USE a SET_KEYSPACE, PREPARE a Prepared result, the rest VOID.
local ffi = require "ffi"
local bit = require "bit"
local socket = require "socket"
local core = require "cql.core"
require "test_server_cdef"
local cqltypes = require "cql.cqltypes"

local C = core.C

-- ---- options --------------------------------------------------------------

local opts = { port = 0, address = "127.0.0.1", max_seconds = 120, verbose = false }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    local function val()
      i = i + 1
      if arg[i] == nil then error("missing value after " .. a, 0) end
      return arg[i]
    end
    if a == "--port" then opts.port = assert(tonumber(val()), "--port wants a number")
    elseif a == "--script" then opts.script = val()
    elseif a == "--address" then opts.address = val()
    elseif a == "--max-seconds" then opts.max_seconds = assert(tonumber(val()), "--max-seconds wants a number")
    elseif a == "--parent-pid" then opts.parent_pid = assert(tonumber(val()), "--parent-pid wants a number")
    elseif a == "--max-version" then opts.max_version = assert(tonumber(val()), "--max-version wants a number")
    elseif a == "--verbose" then opts.verbose = true
    else error("unknown argument " .. a, 0) end
    i = i + 1
  end
end

local function log(fmt, ...)
  if opts.verbose then io.stderr:write(("[cql_test_server] " .. fmt .. "\n"):format(...)) end
end

local script = {}
if opts.script then
  local chunk = assert(loadfile(opts.script))
  script = chunk()
  assert(type(script) == "table", "the script must return a table")
end
local rules = script.rules or script
local max_version = opts.max_version or script.max_version or 5
local auth = script.auth

-- ---- protocol constants ---------------------------------------------------

local OP = { ERROR = 0x00, STARTUP = 0x01, READY = 0x02, AUTHENTICATE = 0x03, OPTIONS = 0x05,
             SUPPORTED = 0x06, QUERY = 0x07, RESULT = 0x08, PREPARE = 0x09, EXECUTE = 0x0A,
             REGISTER = 0x0B, BATCH = 0x0D, AUTH_RESPONSE = 0x0F, AUTH_SUCCESS = 0x10 }
local OP_NAME = { [OP.QUERY] = "QUERY", [OP.PREPARE] = "PREPARE", [OP.EXECUTE] = "EXECUTE",
                  [OP.BATCH] = "BATCH" }
local DIR_REQUEST = 1
local RFLAG_GLOBAL, RFLAG_MORE = 0x0001, 0x0002

-- Error codes by normalised name (lower case, no underscores): the spec's
-- names and the driver's class names both work.
local ERROR_CODES = {
  servererror = 0x0000, protocolerror = 0x000A, protocolexception = 0x000A, badcredentials = 0x0100,
  authenticationfailed = 0x0100, unavailable = 0x1000, overloaded = 0x1001, isbootstrapping = 0x1002,
  truncateerror = 0x1003, writetimeout = 0x1100, readtimeout = 0x1200, readfailure = 0x1300,
  functionfailure = 0x1400, writefailure = 0x1500, cdcwritefailure = 0x1600, caswriteunknown = 0x1700,
  syntaxerror = 0x2000, syntaxexception = 0x2000, unauthorized = 0x2100, invalid = 0x2200,
  invalidrequest = 0x2200, configerror = 0x2300, configurationexception = 0x2300,
  alreadyexists = 0x2400, unprepared = 0x2500, preparedquerynotfound = 0x2500,
}
local CONSISTENCY = { ANY = 0, ONE = 1, TWO = 2, THREE = 3, QUORUM = 4, ALL = 5, LOCAL_QUORUM = 6,
                      EACH_QUORUM = 7, SERIAL = 8, LOCAL_SERIAL = 9, LOCAL_ONE = 10 }

-- ---- encoding responses ---------------------------------------------------

-- Reused scratch state; a response is encoded in one go, so sharing is safe.
local body_buf, frame_buf, seg_buf = core.new_buf(), core.new_buf(), core.new_buf()
local writer = ffi.gc(ffi.new("cq_frame_writer"), C.cq_frame_writer_free)
C.cq_frame_writer_init(writer, 5, 0)
local seg_enc = ffi.gc(ffi.new("cq_segment_encoder"), C.cq_segment_encoder_free)
C.cq_segment_encoder_init(seg_enc, 0)
local header = ffi.new("cq_frame_header")

local function set_str(s, v)
  if v == nil then s.p, s.len = nil, 0 else s.p, s.len = v, #v end
end

--- Encodes `resp` as a whole response frame (wrapped into segments when
-- the connection has switched to v5 framing); returns the bytes.
local function encode(conn, version, stream, resp)
  C.cq_buf_reset(body_buf)
  local flags = bit.bor(resp.npayload > 0 and 0x04 or 0, resp.nwarnings > 0 and 0x08 or 0)
  local rc = C.cq_response_encode(body_buf, version, flags, resp)
  if rc ~= 0 then error("cannot encode a response: " .. ffi.string(C.cq_status_name(rc)), 0) end
  header.version, header.response, header.flags = version, 1, flags
  header.stream, header.opcode = stream, resp.opcode
  writer.version = version
  C.cq_buf_reset(frame_buf)
  rc = C.cq_frame_write(writer, frame_buf, header, body_buf.data, body_buf.len)
  if rc ~= 0 then error("cannot write a frame: " .. ffi.string(C.cq_status_name(rc)), 0) end
  if not conn.framed then return ffi.string(frame_buf.data, frame_buf.len) end
  C.cq_buf_reset(seg_buf)
  rc = C.cq_segment_encode_frames(seg_enc, seg_buf, frame_buf.data, frame_buf.len)
  if rc ~= 0 then error("cannot write a segment: " .. ffi.string(C.cq_status_name(rc)), 0) end
  return ffi.string(seg_buf.data, seg_buf.len)
end

local function simple(opcode)
  local r = ffi.new("cq_response")
  r.opcode = opcode
  return r
end

local function int32be(n)
  return string.char(bit.band(bit.rshift(n, 24), 255), bit.band(bit.rshift(n, 16), 255),
                     bit.band(bit.rshift(n, 8), 255), bit.band(n, 255))
end

-- Type objects by CQL name; keeps their arenas alive for the whole run.
local types = {}
local function cql_type(name)
  local t = types[name]
  if not t then
    t = cqltypes.lookup_casstype(name)
    types[name] = t
  end
  return t
end

-- A cq_col_spec array for {{name, type}, ...}; `keep` anchors the strings.
local function col_specs(columns, keep)
  local n = #columns
  local specs = ffi.new("cq_col_spec[?]", math.max(n, 1))
  keep[#keep + 1] = specs
  for i, col in ipairs(columns) do
    local name, tname = col.name or col[1], col.type or col[2]
    keep[#keep + 1] = name
    set_str(specs[i - 1].name, name)
    specs[i - 1].type = cql_type(tname)._t
  end
  return specs, n
end

local function fill_rows_meta(meta, spec, keep)
  local columns = spec.columns or {}
  local specs, n = col_specs(columns, keep)
  meta.flags = RFLAG_GLOBAL
  meta.column_count = n
  local ks, tbl = spec.keyspace or "ks", spec.table or "t"
  keep[#keep + 1] = ks
  keep[#keep + 1] = tbl
  set_str(meta.keyspace, ks)
  set_str(meta.table, tbl)
  meta.columns = specs
  if spec.paging_state then
    meta.flags = bit.bor(meta.flags, RFLAG_MORE)
    keep[#keep + 1] = spec.paging_state
    meta.paging_state.p, meta.paging_state.len = spec.paging_state, #spec.paging_state
  end
end

local function rows_response(spec, version)
  local r = ffi.new("cq_response")
  r.opcode = OP.RESULT
  local res = r.u.result
  res.kind = 2
  local keep = {}
  fill_rows_meta(res.meta, spec, keep)
  local columns, parts = spec.columns or {}, {}
  local rows = spec.rows or {}
  for _, row in ipairs(rows) do
    for i, col in ipairs(columns) do
      local v = row[i]
      if v == nil then v = row[col.name or col[1]] end
      if v == nil then
        parts[#parts + 1] = "\255\255\255\255"
      else
        local s = cql_type(col.type or col[2]):serialize(v, version)
        parts[#parts + 1] = int32be(#s) .. s
      end
    end
  end
  local content = table.concat(parts)
  keep[#keep + 1] = content
  res.row_count = #rows
  res.rows, res.rows_len = content, #content
  return r, keep
end

local function error_response(e, version)
  local r = ffi.new("cq_response")
  r.opcode = OP.ERROR
  local er = r.u.error
  local keep = {}
  local code = e.code or 0
  if type(code) == "string" then
    code = ERROR_CODES[code:lower():gsub("_", "")] or error("unknown error code name " .. code, 0)
  end
  er.code = code
  local msg = e.message or ("cql_test_server error 0x%04x"):format(code)
  keep[#keep + 1] = msg
  set_str(er.message, msg)
  local cl = e.consistency or 1
  er.consistency = type(cl) == "string" and assert(CONSISTENCY[cl:upper()], "unknown consistency") or cl
  er.required, er.alive = e.required or 0, e.alive or 0
  er.received, er.block_for = e.received or 0, e.block_for or 0
  local wt = e.write_type or "SIMPLE"
  keep[#keep + 1] = wt
  set_str(er.write_type, wt)
  if e.contentions then er.has_contentions, er.contentions = 1, e.contentions end
  er.data_present = (e.data_present == true or (tonumber(e.data_present) or 0) ~= 0) and 1 or 0
  er.num_failures = e.num_failures or 0
  if version >= 5 and (code == 0x1300 or code == 0x1500) then
    -- v5 sends a reason map; make one up from num_failures when none is given.
    local reasons = e.reasons
    if not reasons then
      reasons = {}
      for i = 1, er.num_failures do reasons["127.0.0." .. i] = 0 end
    end
    local list = {}
    for addr, rcode in pairs(reasons) do list[#list + 1] = { addr, rcode } end
    local arr = ffi.new("cq_failure_reason[?]", math.max(#list, 1))
    keep[#keep + 1] = arr
    for i, item in ipairs(list) do
      local a, b, c, d = item[1]:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
      local ep = arr[i - 1].endpoint
      ep.len = 4
      ep.addr[0], ep.addr[1], ep.addr[2], ep.addr[3] = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
      arr[i - 1].code = item[2]
    end
    er.reasons, er.nreasons = arr, #list
  end
  for _, f in ipairs { "keyspace", "table", "function" } do
    if e[f] then
      keep[#keep + 1] = e[f]
      set_str(er[f], e[f])
    end
  end
  if code == 0x2400 then -- ALREADY_EXISTS always carries both
    set_str(er.keyspace, e.keyspace or "ks")
    set_str(er.table, e.table or "")
  end
  if e.arg_types or code == 0x1400 then
    local list = e.arg_types or {}
    local arr = ffi.new("cq_str[?]", math.max(#list, 1))
    keep[#keep + 1] = arr
    for i, s in ipairs(list) do
      keep[#keep + 1] = s
      set_str(arr[i - 1], s)
    end
    er.arg_types, er.narg_types = arr, #list
    if not e.keyspace then set_str(er.keyspace, "ks") end
    if not e["function"] then set_str(er["function"], "f") end
  end
  if code == 0x2500 then
    local id = e.unprepared_id or "\0"
    keep[#keep + 1] = id
    er.unprepared_id.p, er.unprepared_id.len = id, #id
  end
  return r, keep
end

-- ---- prepared statements --------------------------------------------------

-- Ids are shared by every connection, as on a real node.
local prepared_by_id, id_by_query, next_id = {}, {}, 0
local function prepared_id(query)
  local id = id_by_query[query]
  if not id then
    next_id = next_id + 1
    id = ("cqlts-%010d"):format(next_id) -- 16 bytes, like an MD5
    id_by_query[query] = id
    prepared_by_id[id] = query
  end
  return id
end

local function prepared_response(query, t, version)
  local r = ffi.new("cq_response")
  r.opcode = OP.RESULT
  local res = r.u.result
  res.kind = 4
  local keep = {}
  local id = prepared_id(query)
  keep[#keep + 1] = id
  res.id.p, res.id.len = id, #id
  if version >= 5 then res.result_metadata_id.p, res.result_metadata_id.len = id, #id end
  local bind = t and t.bind or {}
  local specs, n = col_specs(bind, keep)
  res.prepared.flags = RFLAG_GLOBAL
  res.prepared.column_count = n
  res.prepared.columns = specs
  set_str(res.prepared.keyspace, "ks")
  set_str(res.prepared.table, "t")
  -- Result columns: given by the PREPARE rule, else from a static EXECUTE
  -- rule on the same text, so the driver sees the metadata it will get.
  local columns = t and t.columns
  if not columns then
    for _, rule in ipairs(rules) do
      local w, th = rule.when or {}, rule["then"] or rule.reply
      if (w.opcode == nil or w.opcode == "EXECUTE") and type(th) == "table" and th.rows
          and (w.query == nil or query:find(w.query)) then
        columns = th.rows.columns
        break
      end
    end
  end
  fill_rows_meta(res.meta, { columns = columns or {} }, keep)
  return r, keep
end

-- ---- defaults -------------------------------------------------------------

local LOCAL_ROW = {
  key = { "text", "local" }, release_version = { "text", "5.0.9" },
  cluster_name = { "text", "cqlua-test" }, data_center = { "text", "datacenter1" },
  rack = { "text", "rack1" }, partitioner = { "text", "org.apache.cassandra.dht.Murmur3Partitioner" },
  cql_version = { "text", "3.4.7" }, native_protocol_version = { "text", "5" },
  bootstrapped = { "text", "COMPLETED" }, rpc_address = { "inet", "127.0.0.1" },
  broadcast_address = { "inet", "127.0.0.1" }, listen_address = { "inet", "127.0.0.1" },
  rpc_port = { "int", 9042 }, host_id = { "uuid", "2b9c8f5a-0d58-4c3e-9d6f-3a4c1f0e7b11" },
  schema_version = { "uuid", "5a1e5c5e-1f2b-3c4d-8e9f-0a1b2c3d4e5f" }, tokens = { "set<text>", { "0" } },
}
local LOCAL_ORDER = { "key", "release_version", "cluster_name", "data_center", "rack", "partitioner",
                      "cql_version", "native_protocol_version", "bootstrapped", "rpc_address",
                      "broadcast_address", "listen_address", "rpc_port", "host_id", "schema_version",
                      "tokens" }
local TYPE_GUESS = { peer = "inet", rpc_address = "inet", native_address = "inet", preferred_ip = "inet",
                     broadcast_address = "inet", listen_address = "inet", host_id = "uuid",
                     schema_version = "uuid", tokens = "set<text>", native_port = "int", rpc_port = "int" }

-- The answer a request gets when no rule gives one.
local function default_answer(query)
  local q = query or ""
  local ks = q:match("^%s*[Uu][Ss][Ee]%s+\"?([%w_]+)")
  if ks then return { set_keyspace = ks } end
  local list, from = q:match("^%s*[Ss][Ee][Ll][Ee][Cc][Tt]%s+(.-)%s+[Ff][Rr][Oo][Mm]%s+([%w_%.\"]+)")
  if not list then return { void = true } end
  local names = {}
  if list:match("^%s*%*%s*$") then
    if from:lower():gsub("\"", "") == "system.local" then names = LOCAL_ORDER end
  else
    for item in list:gmatch("[^,]+") do
      names[#names + 1] = item:match("([%w_]+)%s*$") or item
    end
  end
  local is_local = from:lower():gsub("\"", "") == "system.local"
  local columns, row = {}, {}
  for i, name in ipairs(names) do
    local known = is_local and LOCAL_ROW[name]
    columns[i] = { name, known and known[1] or TYPE_GUESS[name] or "text" }
    if known then row[i] = known[2] end
  end
  return { rows = { columns = columns, rows = is_local and { row } or {} } }
end

-- ---- rules ----------------------------------------------------------------

local function matches(pattern, text)
  if pattern == nil then return {} end
  if text == nil then return nil end
  local r = { text:find(pattern) }
  if r[1] == nil then return nil end
  return { select(3, unpack(r)) }
end

local function find_rule(req, from)
  for i = from, #rules do
    local rule = rules[i]
    local w = rule.when or {}
    local left = rule.times == nil or (rule.used or 0) < rule.times
    if left and (w.opcode == nil or w.opcode == req.opcode) then
      local caps
      if req.opcode == "BATCH" and w.query then
        for _, q in ipairs(req.queries) do
          caps = matches(w.query, q)
          if caps then break end
        end
      else
        caps = matches(w.query, req.query)
      end
      if caps then return rule, caps, i end
    end
  end
end

local ANSWERS = { "rows", "void", "set_keyspace", "error", "close", "garbage", "no_answer", "prepared" }
local function has_answer(t)
  for _, k in ipairs(ANSWERS) do
    if t[k] ~= nil and t[k] ~= false then return true end
  end
  return false
end

-- Picks the rule for req and returns the action: a then-table with an
-- answer, plus the summed delay_ms of the rules applied on the way.
local function decide(req)
  local delay, from = 0, 1
  local extra -- fields of a rule without an answer (bind/columns for PREPARE)
  while true do
    local rule, caps, i = find_rule(req, from)
    if not rule then break end
    req.captures = caps
    local t = rule["then"] or rule.reply or {}
    if type(t) == "function" then t = t(req) or {} end
    rule.used = (rule.used or 0) + 1
    delay = delay + (t.delay_ms or 0)
    if t.unprepared and req.opcode == "EXECUTE" and not rule.unprepared_done then
      rule.unprepared_done = true
      return { unprepared = true }, delay
    end
    if t.unprepared then -- already answered UNPREPARED once: the rest of the rule
      local rest = {}
      for k, x in pairs(t) do rest[k] = x end
      rest.unprepared = nil
      t = rest
    end
    if has_answer(t) then return t, delay end
    extra = extra or t
    from = i + 1
  end
  local t = default_answer(req.query)
  if req.opcode == "PREPARE" then t = { prepared = true } end
  if req.opcode == "BATCH" then t = { void = true } end
  if extra then t.bind, t.columns = extra.bind, extra.columns end
  return t, delay
end

-- ---- connections ----------------------------------------------------------

local conns = {} -- socket -> connection
local timers = {} -- { at = seconds, fn = function }

local function after(ms, fn)
  timers[#timers + 1] = { at = socket.gettime() + ms / 1000, fn = fn }
end

local function close_conn(conn, why)
  if conn.closed then return end
  conn.closed = true
  log("closing connection %d: %s", conn.n, why)
  conns[conn.sock] = nil
  conn.sock:close()
  C.cq_frame_reader_free(conn.fr)
  if conn.sd then C.cq_segment_decoder_free(conn.sd) end
end

local function flush(conn)
  if conn.closed or #conn.out == 0 then return end
  local data = table.concat(conn.out)
  local last, err, partial = conn.sock:send(data)
  last = last or partial or 0
  if err and err ~= "timeout" then return close_conn(conn, "send failed: " .. err) end
  conn.out = last < #data and { data:sub(last + 1) } or {}
end

local function queue(conn, bytes)
  if conn.closed then return end
  conn.out[#conn.out + 1] = bytes
end

local function reply(conn, version, stream, resp, keep)
  queue(conn, encode(conn, version, stream, resp))
  return keep -- anchors the strings resp points at until here
end

-- Switches a v5 connection to segments, right after READY/AUTHENTICATE.
local function start_segments(conn)
  conn.framed = true
  conn.sd = ffi.new("cq_segment_decoder")
  C.cq_segment_decoder_init(conn.sd, 0)
  conn.sd.direction, conn.sd.version = DIR_REQUEST, 5
  local n = ffi.new("size_t[1]")
  local rest = C.cq_frame_reader_pending(conn.fr, n)
  if n[0] > 0 then C.cq_segment_decoder_feed(conn.sd, rest, n[0]) end
end

local function str(s)
  if s.p == nil then return nil end
  return ffi.string(s.p, s.len)
end

-- What rules see of a request (copied out of the frame body at once).
local function describe(conn, h, req)
  local op = OP_NAME[h.opcode]
  local d = { opcode = op, version = h.version, stream = h.stream, conn = conn.n }
  local params
  if h.opcode == OP.QUERY then
    d.query = str(req.u.query.query)
    params = req.u.query.params
  elseif h.opcode == OP.PREPARE then
    d.query = str(req.u.prepare.query)
  elseif h.opcode == OP.EXECUTE then
    d.id = ffi.string(req.u.execute.id.p, req.u.execute.id.len)
    d.query = prepared_by_id[d.id]
    params = req.u.execute.params
  elseif h.opcode == OP.BATCH then
    d.queries = {}
    local b = req.u.batch
    for i = 0, b.nstmts - 1 do
      local s = b.stmts[i]
      d.queries[i + 1] = s.kind == 0 and str(s.query)
                         or prepared_by_id[ffi.string(s.id.p, s.id.len)] or ""
    end
    d.query = d.queries[1]
    d.consistency = b.consistency
  end
  if bit.band(h.flags, 0x04) ~= 0 and req.npayload > 0 then
    d.payload = {}
    for i = 0, req.npayload - 1 do
      local e = req.payload[i]
      d.payload[str(e.key)] = e.value.len >= 0 and ffi.string(e.value.p, e.value.len) or false
    end
  end
  if params then
    d.consistency = params.consistency
    d.values = {}
    for i = 0, params.nvalues - 1 do
      local v = params.values[i]
      d.values[i + 1] = v.len >= 0 and ffi.string(v.p, v.len) or nil
    end
  end
  return d
end

local function answer(conn, d, t)
  local v, stream = d.version, d.stream
  -- A request's custom payload comes back with its answer (as with
  -- Cassandra's payload-echoing test query handler).
  local function respond(_, _, _, resp, keep)
    local entries
    if d.payload and resp.opcode == OP.RESULT then
      local n = 0
      for _ in pairs(d.payload) do n = n + 1 end
      entries = ffi.new("cq_payload_entry[?]", n)
      local i = 0
      for k, val in pairs(d.payload) do
        set_str(entries[i].key, k)
        if val then
          entries[i].value.p, entries[i].value.len = ffi.cast("const uint8_t *", val), #val
        else
          entries[i].value.len = -1
        end
        i = i + 1
      end
      resp.payload, resp.npayload = entries, n
    end
    local warnings
    if t.warnings and #t.warnings > 0 and v >= 4 then
      warnings = ffi.new("cq_str[?]", #t.warnings)
      for i, w in ipairs(t.warnings) do set_str(warnings[i - 1], w) end
      resp.warnings, resp.nwarnings = warnings, #t.warnings
    end
    queue(conn, encode(conn, v, stream, resp))
    return keep, { entries, warnings }
  end
  if conn.closed then return end
  if t.close then return close_conn(conn, "rule: close") end
  if t.no_answer then return end
  if t.garbage then
    -- Raw bytes, never framed: 0x42 is no protocol version, and on v5 the
    -- bytes break the segment header's CRC.
    queue(conn, type(t.garbage) == "string" and t.garbage or "\66 this is not a CQL frame \0\0\0\0\0\0\0\0")
    return
  end
  if t.unprepared then
    return respond(conn, v, stream, error_response({ code = 0x2500, unprepared_id = d.id,
                                                   message = "Prepared query with ID not found" }, v))
  end
  if d.opcode == "EXECUTE" and not d.query then
    return respond(conn, v, stream, error_response({ code = 0x2500, unprepared_id = d.id,
                                                   message = "Prepared query with ID not found" }, v))
  end
  if t.error then return respond(conn, v, stream, error_response(t.error, v)) end
  if t.rows then return respond(conn, v, stream, rows_response(t.rows, v)) end
  if t.set_keyspace then
    local r, ks = ffi.new("cq_response"), t.set_keyspace
    r.opcode, r.u.result.kind = OP.RESULT, 3
    set_str(r.u.result.keyspace, ks)
    return respond(conn, v, stream, r, ks)
  end
  if t.prepared or d.opcode == "PREPARE" then
    return respond(conn, v, stream, prepared_response(d.query, t, v))
  end
  local r = ffi.new("cq_response")
  r.opcode, r.u.result.kind = OP.RESULT, 1
  return respond(conn, v, stream, r)
end

local function handle_query(conn, h, req)
  local d = describe(conn, h, req)
  local ok, t, delay = pcall(decide, d)
  if not ok then
    log("script error: %s", tostring(t))
    t, delay = { error = { code = 0x0000, message = "cql_test_server script error: " .. tostring(t) } }, 0
  end
  log("conn %d stream %d %s %q -> delay %d", conn.n, d.stream, d.opcode, tostring(d.query), delay)
  if delay > 0 then
    after(delay, function() answer(conn, d, t) end)
  else
    answer(conn, d, t)
  end
end

local function supported_response()
  local r = ffi.new("cq_response")
  r.opcode = OP.SUPPORTED
  local keep = { "CQL_VERSION", "3.4.7", "COMPRESSION", "PROTOCOL_VERSIONS", "3/v3", "4/v4", "5/v5" }
  local cqlv = ffi.new("cq_str[1]")
  set_str(cqlv[0], "3.4.7")
  local pvs = ffi.new("cq_str[3]")
  for i = 1, 3 do set_str(pvs[i - 1], keep[4 + i]) end
  local entries = ffi.new("cq_multimap_entry[3]")
  set_str(entries[0].key, "CQL_VERSION")
  entries[0].values, entries[0].nvalues = cqlv, 1
  set_str(entries[1].key, "COMPRESSION")
  entries[1].values, entries[1].nvalues = cqlv, 0 -- no compression offered
  set_str(entries[2].key, "PROTOCOL_VERSIONS")
  entries[2].values, entries[2].nvalues = pvs, math.min(max_version, 5) - 2
  r.u.supported.entries, r.u.supported.n = entries, 3
  keep[#keep + 1] = { cqlv, pvs, entries }
  return r, keep
end

local req_cdata = ffi.new("cq_request")
local req_arena = core.new_arena(0)
local diag = ffi.new("cq_diag")

local function handle_frame(conn, f)
  local h = f.header
  local v = h.version
  if not conn.version then
    if v > max_version then
      -- As Cassandra: a protocol error in our own highest version, then close.
      local list = {}
      for i = 3, max_version do list[#list + 1] = ("%d/v%d"):format(i, i) end
      local msg = ("Invalid or unsupported protocol version (%d); supported versions are (%s)")
                  :format(v, table.concat(list, ", "))
      reply(conn, max_version, h.stream, error_response({ code = 0x000A, message = msg }, max_version))
      conn.close_after_flush = true
      return false
    end
    conn.version = v
    conn.fr.version = v
  end
  C.cq_arena_reset(req_arena)
  local rc = C.cq_request_decode(req_cdata, v, h.flags, h.opcode, f.body, f.body_len, req_arena, diag)
  if rc ~= 0 then
    local msg = "cql_test_server cannot decode the request: " .. ffi.string(diag.msg)
    reply(conn, v, h.stream, error_response({ code = 0x000A, message = msg }, v))
    return true
  end
  local op = h.opcode
  if op == OP.OPTIONS then
    reply(conn, v, h.stream, supported_response())
  elseif op == OP.STARTUP then
    if req_cdata.u.startup.compression.p ~= nil then
      reply(conn, v, h.stream, error_response({ code = 0x000A,
        message = "cql_test_server does not support compression" }, v))
      return true
    end
    if auth then
      local r = ffi.new("cq_response")
      r.opcode = OP.AUTHENTICATE
      local cls = auth.authenticator or "org.apache.cassandra.auth.PasswordAuthenticator"
      set_str(r.u.authenticator, cls)
      reply(conn, v, h.stream, r, cls)
    else
      reply(conn, v, h.stream, simple(OP.READY))
    end
    if v == 5 then start_segments(conn) end
  elseif op == OP.AUTH_RESPONSE then
    local tok = req_cdata.u.auth_token
    local token = tok.len >= 0 and ffi.string(tok.p, tok.len) or ""
    local user, pass = token:match("^[^%z]*%z([^%z]*)%z(.*)$")
    if auth and user == auth.username and pass == auth.password then
      local r = simple(OP.AUTH_SUCCESS)
      r.u.auth_token.len = -1
      reply(conn, v, h.stream, r)
    else
      reply(conn, v, h.stream, error_response({ code = 0x0100,
        message = ("Provided username %s and/or password are incorrect"):format(tostring(user)) }, v))
    end
  elseif op == OP.REGISTER then
    reply(conn, v, h.stream, simple(OP.READY))
  elseif OP_NAME[op] then
    handle_query(conn, h, req_cdata)
  else
    reply(conn, v, h.stream, error_response({ code = 0x000A,
      message = "cql_test_server: unexpected opcode " .. op }, v))
  end
  return true
end

local frame = ffi.new("cq_frame")
local function on_data(conn, data)
  local rc
  if conn.framed then
    rc = C.cq_segment_decoder_feed(conn.sd, data, #data)
  else
    rc = C.cq_frame_reader_feed(conn.fr, data, #data)
  end
  while rc >= 0 and not conn.closed do
    if conn.framed then rc = C.cq_segment_decoder_next(conn.sd, frame)
    else rc = C.cq_frame_reader_next(conn.fr, frame) end
    if rc == 1 then
      if not handle_frame(conn, frame) then return end
    elseif rc == 0 then
      return
    end
  end
  if rc < 0 and not conn.closed then
    local msg = conn.framed and ffi.string(conn.sd.msg) or ffi.string(conn.fr.msg)
    flush(conn)
    close_conn(conn, "bad input from the client: " .. msg)
  end
end

-- ---- main loop ------------------------------------------------------------

local server = assert(socket.tcp4()) -- IPv4 now: tcp() makes its fd only at bind
assert(server:setoption("reuseaddr", true))
assert(server:bind(opts.address, opts.port))
assert(server:listen(256))
server:settimeout(0)
local _, port = server:getsockname()
io.stdout:write(("LISTENING %d\n"):format(port))
io.stdout:flush()
log("listening on %s:%d (max v%d)", opts.address, port, max_version)

local started = socket.gettime()
local deadline = started + opts.max_seconds
local first_ppid = C.getppid()
local next_parent_check = 0
local nconn = 0

local function parent_gone()
  if opts.parent_pid then
    return C.kill(opts.parent_pid, 0) ~= 0 and ffi.errno() == 3 -- ESRCH
  end
  return C.getppid() ~= first_ppid
end

while true do
  local now = socket.gettime()
  if now >= deadline then log("--max-seconds reached") break end
  if now >= next_parent_check then
    if parent_gone() then log("parent process gone") break end
    next_parent_check = now + 0.5
  end
  -- Due timers, in time order (each may queue output).
  local due = {}
  local i = 1
  while i <= #timers do
    if timers[i].at <= now then
      due[#due + 1] = table.remove(timers, i)
    else
      i = i + 1
    end
  end
  table.sort(due, function(a, b) return a.at < b.at end)
  for _, t in ipairs(due) do t.fn() end
  local readers, writers = { server }, {}
  for sock, conn in pairs(conns) do
    flush(conn)
    if not conn.closed then
      if conn.close_after_flush and #conn.out == 0 then
        close_conn(conn, "version refused")
      else
        readers[#readers + 1] = sock
        if #conn.out > 0 then writers[#writers + 1] = sock end
      end
    end
  end
  local wait = 0.25
  for _, t in ipairs(timers) do wait = math.min(wait, math.max(0, t.at - now)) end
  local readable = socket.select(readers, writers, wait)
  for _, sock in ipairs(readable or {}) do
    if sock == server then
      local client = server:accept()
      if client then
        client:settimeout(0)
        client:setoption("tcp-nodelay", true)
        nconn = nconn + 1
        local fr = ffi.new("cq_frame_reader")
        C.cq_frame_reader_init(fr, 0, 0)
        fr.direction = DIR_REQUEST
        conns[client] = { sock = client, fr = fr, out = {}, n = nconn }
        log("connection %d accepted", nconn)
      end
    else
      local conn = conns[sock]
      if conn then
        local data, err, partial = sock:receive(65536)
        data = data or partial
        if data and #data > 0 then on_data(conn, data) end
        if err and err ~= "timeout" then close_conn(conn, "client: " .. err) end
      end
    end
  end
end

for _, conn in pairs(conns) do close_conn(conn, "server exiting") end
server:close()
os.exit(0)
