--- The OpenResty host: the same interface as cql.host.uv, over nginx
-- cosockets (`ngx.socket.tcp`), for one request (or one `ngx.timer`
-- callback, or one light thread context).
--
-- nginx has no loop for the driver to run: a cosocket belongs to the
-- request that created it and every wait yields that request's coroutine
-- to nginx. So this host exists once per request handler (cql.runtime
-- keeps it in `ngx.ctx`, by phase), and `turn(timeout)` is called by whoever waits for a future
-- (cql.scheduler's blocking path): it starts pending connects, writes what
-- every cq_conn queued, fires due timers and deadlines, then reads from
-- the connections that expect bytes (inline for one, one light thread per
-- connection for several: the first to get bytes ends the wait), feeds
-- the cq_conns and dispatches their events. One light thread drives at a
-- time; others calling `turn` meanwhile wait on a semaphore the driver
-- posts after each round, so several light threads of one request share
-- the connections (and their stream ids).
--
-- Connections go back to nginx's keepalive pool instead of being closed
-- when that is safe: READY, no stream id held (nothing in flight, no late
-- answer owed), nothing left to write, no keyspace change, no events
-- registered (a pushed EVENT could be half read; events are off by
-- default, see `follow_events`), and authenticated only
-- when the pool is scoped by credentials (`set_credentials_key`). The pool
-- name is made of the address, port, keyspace, protocol version asked,
-- compression, TLS settings (verification, server name, client
-- certificate) and that credentials key. A connection taken back
-- from the pool (`getreusedtimes() > 0`) skips the handshake: the worker
-- keeps the idle cq_conn state machines of the sockets it pooled (same
-- pool name, so same negotiated settings), and hands one over with a READY
-- event.
-- @module cql.host.ngx
-- luacheck: globals ngx
local ffi = require "ffi"
local bit = require "bit"
local core = require "cql.core"
local log = require "cql.log"
require "cql.cdef_transport"

local C = core.C

-- The state machine's entry points the libuv host reaches through its C
-- transport; declared one by one, so that a declaration cql.cdef_transport
-- gains later is not a redefinition.
for _, decl in ipairs {
  "cq_conn *cq_conn_new(const cq_conn_config *cfg);",
  "void cq_conn_free(cq_conn *c);",
  "int cq_conn_start(cq_conn *c, int64_t now_ms);",
  "int cq_conn_feed(cq_conn *c, const void *p, size_t n, int64_t now_ms);",
  "int cq_conn_next_event(cq_conn *c, cq_conn_event *ev);",
  "const uint8_t *cq_conn_output(cq_conn *c, size_t *n);",
  "void cq_conn_consumed(cq_conn *c, size_t n);",
  "int cq_conn_tick(cq_conn *c, int64_t now_ms);",
  "int64_t cq_conn_next_deadline(const cq_conn *c);",
  "int cq_conn_send_request(cq_conn *c, const cq_request *req, int flags, uint64_t user_id, "
    .. "int64_t deadline_ms, int16_t *stream);",
  "int cq_conn_auth_response(cq_conn *c, const void *token, int32_t len);",
  "void cq_conn_eof(cq_conn *c, const char *reason);",
  "void cq_conn_close(cq_conn *c, const char *reason);",
} do
  local name = decl:match("([%w_]+)%(")
  if not pcall(function() return C[name] end) then ffi.cdef(decl) end
end

local EV_READY, EV_AUTHENTICATE, EV_RESPONSE, EV_CLOSED = 1, 2, 5, 8
local STATE_READY = 7
local OP_ERROR, OP_QUERY, OP_RESULT, OP_PREPARE = 0x00, 0x07, 0x08, 0x09
local ERR_STATE, ERR_CLOSED = -8, -10
local READ_SIZE = 65536
local MAX_WAIT = 60 -- seconds: the longest single wait of a turn
local READER_WAIT = 1 -- seconds: the longest read of a reader thread

local NgxHost = {}
NgxHost.__index = NgxHost

--- Settings of the keepalive pool (change before the first request):
-- `idle_timeout` (seconds a pooled connection may stay idle) and
-- `pool_size` (connections per pool name and worker).
NgxHost.keepalive = { idle_timeout = 60, pool_size = 32 }

--- Whether PREPAREs are answered from the prepared-statement cache.
NgxHost.cache_prepared = true
NgxHost.prepared_generation = 0

--- Seconds the node list a Cluster reads when it connects (system.local,
-- system.peers_v2, system.peers) is answered from this worker's cache; 0
-- turns the cache off.
NgxHost.system_cache_ttl = 1

--- Seconds a wait without timeout may find nothing to wait for before it
-- fails with an error (instead of holding the request forever).
NgxHost.STALL_LIMIT = 5

--- Whether connections register the server events a Cluster asks for
-- (its control connection); a host's own `follow_events` field, when set,
-- overrides it (cql.ngx sets it in the control worker's timer). Off by default: such a connection is never
-- pooled, which costs a TCP connect and a handshake per `cluster:connect`;
-- a per-request Cluster reads the node list when it connects anyway.
NgxHost.follow_events = false

--- Per-worker counters: handshakes (fresh connections; control_handshakes
-- for those registering events, which are never pooled), reused (taken from
-- the keepalive pool), pooled (put back), closed, prepare_hits,
-- prepare_misses and prepared_invalidations (the prepared-statement cache),
-- system_hits (node-list queries answered from the cache);
-- these are also added to `lua_shared_dict cqlua_stats` (all workers) when
-- it exists. reader_threads (light threads started to read several
-- connections at once), bytes_in and bytes_out are for this worker only.
NgxHost.stats = { handshakes = 0, control_handshakes = 0, reused = 0, pooled = 0, closed = 0,
                  reader_threads = 0, prepare_hits = 0, prepare_misses = 0, prepared_invalidations = 0, system_hits = 0,
                  bytes_in = 0, bytes_out = 0 }

-- pool name -> array of idle READY cq_conn (this worker's pooled sockets).
local idle = {}

local function count(name)
  NgxHost.stats[name] = NgxHost.stats[name] + 1
  local dict = ngx.shared and ngx.shared.cqlua_stats
  if dict then dict:incr(name, 1, 0) end
end

local function now_ms()
  return math.floor(ngx.now() * 1000)
end

--- A host for the current request (cql.runtime creates it).
function NgxHost.new()
  local semaphore = require "ngx.semaphore"
  return setmetatable({
    ctx = ngx.ctx,
    phase = ngx.get_phase(),
    conns = {},        -- id -> connection record
    next_id = 0,
    timers = {},       -- array of {at, fn}
    next_timer = 0,
    deferred = {},     -- events to dispatch at the next turn: {record, kind, text}
    sema = semaphore.new(0),    -- posted when a driver's round ends
    io_sema = semaphore.new(0), -- posted when a reader thread ends
    driving = false,
    size = ffi.new("size_t[1]"),
    credentials_key = nil,
  }, NgxHost)
end

local function check_context(self)
  if ngx.ctx ~= self.ctx or ngx.get_phase() ~= self.phase then
    error("cql.host.ngx: this Cluster belongs to another request or handler (it was created in the '"
      .. self.phase .. "' phase); in nginx create the Cluster in the handler (or timer callback) that "
      .. "uses it: cosockets cannot cross requests or phases", 3)
  end
end

--- Scopes pooled authenticated connections: connections that authenticate
-- are only put back in the keepalive pool when a key naming the
-- credentials (any string, e.g. a hash of user and password) is set.
function NgxHost:set_credentials_key(key)
  self.credentials_key = key
end

--- Seconds (nginx's cached clock, refreshed at each turn).
function NgxHost.now()
  return ngx.now()
end

--- Milliseconds on the same clock (for request deadlines).
function NgxHost.now_ms()
  return now_ms()
end

--- Calls `fn` after `delay` seconds, during a later turn of this request;
-- returns an object with `cancel()`.
function NgxHost:timer(delay, fn)
  local t = { at = ngx.now() + math.max(0, delay), fn = fn }
  self.timers[#self.timers + 1] = t
  return { cancel = function() t.fn = nil end }
end

-- The credentials part of a pool name: a digest, so that pool names (in
-- the worker's memory and nginx's debug log) never hold a password.
local function credentials_part(key)
  if not key then return "-" end
  local bin = ngx.sha1_bin(key)
  return (bin:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end))
end

-- TLS inside nginx. The cosocket does the handshake (`sslhandshake`), with
-- what lua-nginx-module offers: verification on or off against the
-- `lua_ssl_trusted_certificate` of nginx's configuration, one server name
-- that is both the SNI and the name checked (DNS names and common name
-- only: nginx's check ignores IP SANs), and a client certificate
-- (`setclientcert`). The Cluster asks this host for its TLS settings
-- (`tls_settings`) instead of building a libcqlua OpenSSL context, which
-- nginx would not use (and which costs a load of the system trust store).

local function unsupported(message, option)
  error(require("cql.errors").UnsupportedOperation { message = message, option = option }, 0)
end

local function read_pem(path, what)
  local f, err = io.open(path, "rb")
  if not f then error(("bad option ssl_options.%s (cannot read %s)"):format(what, tostring(err)), 0) end
  local pem = f:read("*a")
  f:close()
  return pem
end

-- Parsed client certificates by "cert_file|key_file", for the worker's
-- lifetime (rotating them takes an nginx reload, as for nginx's own).
local client_certificates = {}

-- The client certificate as setclientcert wants it (the parsed chain and
-- key) and a digest naming it in pool names.
local function client_certificate(cert_file, key_file)
  local key = cert_file .. "|" .. key_file
  local cc = client_certificates[key]
  if cc then return cc end
  if not (ngx.socket.tcp()).setclientcert then
    unsupported("ssl_options.cert_file/key_file (a client certificate) need tcpsock:setclientcert, which "
      .. "this lua-nginx-module (or lua-resty-core) lacks: upgrade to lua-nginx-module 0.10.23 or later "
      .. "with its lua-resty-core", "ssl_options.cert_file")
  end
  local ssl = require "ngx.ssl"
  local cert_pem, key_pem = read_pem(cert_file, "cert_file"), read_pem(key_file, "key_file")
  local chain, cerr = ssl.parse_pem_cert(cert_pem)
  if not chain then error("bad option ssl_options.cert_file (" .. tostring(cerr) .. ")", 0) end
  local pkey, kerr = ssl.parse_pem_priv_key(key_pem)
  if not pkey then error("bad option ssl_options.key_file (" .. tostring(kerr) .. ")", 0) end
  cc = { chain = chain, pkey = pkey, id = credentials_part(cert_pem) }
  client_certificates[key] = cc
  return cc
end

--- The TLS settings of `ssl_options` for this host's connections (the
-- Cluster calls it instead of building a libcqlua TLS context): a table
-- `{verify, check_name, server_name, client}`. What a cosocket cannot
-- honour raises an UnsupportedOperation error object naming the option:
-- `ca_file` with verification on (set `lua_ssl_trusted_certificate` in
-- nginx.conf instead), `server_name` with `check_hostname = false` (the
-- name sent is the name checked), a client certificate without
-- `setclientcert`.
-- @tparam table o ssl_options (the seed's ca_certs/certfile/keyfile too)
function NgxHost.tls_settings(_, o)
  local s = { verify = o.verify ~= false, check_name = o.check_hostname ~= false, server_name = o.server_name }
  if s.verify and (o.ca_file or o.ca_certs) then
    unsupported("ssl_options.ca_file cannot be used inside nginx: cosockets verify the server against "
      .. "the trusted certificates of nginx's configuration; set `lua_ssl_trusted_certificate <file>;` "
      .. "(and `lua_ssl_verify_depth`) in nginx.conf instead and leave ca_file out (or set verify = false)",
      "ssl_options.ca_file")
  end
  if s.verify and not s.check_name and s.server_name then
    unsupported("ssl_options.server_name with check_hostname = false cannot be honoured inside nginx: "
      .. "sslhandshake checks the certificate against the server name it sends (SNI); leave "
      .. "server_name out (no SNI, the chain is still verified) or keep check_hostname on",
      "ssl_options.check_hostname")
  end
  local cert, key = o.cert_file or o.certfile, o.key_file or o.keyfile
  if cert or key then
    if not (cert and key) then error("bad option ssl_options (cert_file and key_file go together)", 0) end
    s.client = client_certificate(cert, key)
  end
  return s
end

-- The name to give sslhandshake: the one checked and sent as SNI (nil:
-- neither).
local function tls_name_sent(address, s)
  if s.verify and not s.check_name then return nil end
  return s.server_name or address
end

-- A failed sslhandshake as one line naming the cause, with what to change.
local function tls_failure(c, err)
  local where = ("TLS handshake with %s:%s failed: "):format(c.address, tostring(c.port))
  err = tostring(err)
  if err:find("host mismatch", 1, true) then
    return where .. "certificate host mismatch: the certificate does not name '" .. tostring(c.tls_sent)
      .. "' (inside nginx the name is checked against the certificate's DNS names and common name only, "
      .. "never its IP addresses: set ssl_options.server_name to a name the certificate carries, or "
      .. "check_hostname = false)"
  end
  if err == "closed" and c.tls_verify then
    -- lua-nginx-module 0.10.23 at times reports a refused certificate as
    -- a successful handshake whose socket it has closed: say what it can be.
    local name = c.tls_sent and (" or the name '" .. c.tls_sent .. "' is not in it (set ssl_options.server_name "
      .. "to a DNS name the certificate carries, or check_hostname = false)") or ""
    return where .. "certificate verification failed: nginx closed the connection at the end of the handshake "
      .. "without giving its reason: the chain is not trusted by lua_ssl_trusted_certificate" .. name
      .. "; `lua_socket_log_errors on` logs nginx's reason"
  end
  if c.tls_verify and (err:find("certificate", 1, true) or err:find("verify", 1, true)) then
    return where .. "certificate verification failed: " .. err
      .. " (verified against nginx's lua_ssl_trusted_certificate)"
  end
  return where .. err
end

local function pool_name(address, port, cfg, tls, tls_sent, credentials_key)
  local ks = cfg.keyspace ~= nil and ffi.string(cfg.keyspace) or ""
  local tls_part = "tcp"
  if tls then
    -- Every setting that decides what a handshake accepted: a socket
    -- handshaken without verification, for another name or with another
    -- client certificate is never handed to a cluster asking otherwise.
    tls_part = table.concat({ "tls", tls.verify and "verify" or "noverify", tls_sent or "-",
                              tls.client and tls.client.id or "-" }, ":")
  end
  return table.concat({ "cqlua", address, tostring(port), ks, "v" .. tonumber(cfg.version),
                        cfg.lz4 ~= 0 and "lz4" or "plain", tls_part,
                        credentials_part(credentials_key) }, "|")
end

--- Opens a connection (the TCP connect happens at the next turn);
-- `handler(event)` receives its events. Returns the connection id, or
-- nil and a message. `credentials_key` (the auth provider's cache_key)
-- lets an authenticated connection be pooled for that key only. `tls` (the
-- table `tls_settings` made from the Cluster's ssl_options) turns TLS on;
-- the fifth argument (the libuv host's TLS name) is not used: the server
-- name comes with those settings.
function NgxHost:connect(address, port, config, tls, _tls_name, connect_timeout, handler, credentials_key)
  check_context(self)
  local cfg = ffi.new("cq_conn_config", config)
  cfg.heartbeat_interval_ms = 0 -- idle connections rest in nginx's pool, not here
  local follow = self.follow_events
  if follow == nil then follow = NgxHost.follow_events end
  local events = cfg.nevents > 0 and follow
  if not events then
    -- A Cluster lives for one handler here: it reads the node list when it
    -- connects, and following pushed events would make the control
    -- connection unpoolable (a pushed frame could be half read).
    cfg.events, cfg.nevents = nil, 0
  end
  if tls ~= nil and type(tls) ~= "table" then
    error("bad argument #4 to 'connect' (TLS settings from NgxHost:tls_settings expected)", 2)
  end
  local tls_sent = tls and tls_name_sent(address, tls)
  local timeout = connect_timeout or 5
  if cfg.handshake_timeout_ms == 0 then cfg.handshake_timeout_ms = math.floor(timeout * 1000) end
  local cq = C.cq_conn_new(cfg)
  if cq == nil then return nil, ("cannot connect to %s:%s: bad configuration"):format(address, tostring(port)) end
  self.next_id = self.next_id + 1
  local id = self.next_id
  self.conn_list = nil
  self.conns[id] = {
    id = id, address = address, port = port, cq = ffi.gc(cq, C.cq_conn_free), handler = handler,
    credentials_key = credentials_key or self.credentials_key,
    pool = pool_name(address, port, cfg, tls, tls_sent, credentials_key or self.credentials_key),
    tls = tls, tls_sent = tls_sent, tls_verify = tls and tls.verify,
    timeout = timeout, events = events, phase = "new", inbox = {},
    ev = ffi.new("cq_conn_event"),
  }
  return id
end

--- Answers an authentication challenge.
function NgxHost:auth_response(id, token)
  local c = self.conns[id]
  if not c or c.phase == "closed" then return ERR_CLOSED end
  c.authenticated = true
  if token == nil then return C.cq_conn_auth_response(c.cq, nil, -1) end
  return C.cq_conn_auth_response(c.cq, token, #token)
end

--- The cq_conn cdata of a connection (nil once it is gone).
function NgxHost:conn(id)
  local c = self.conns[id]
  if not c or c.phase == "closed" then return nil end
  return c.cq
end

local function held(c)
  return tonumber(C.cq_conn_streams_held(c.cq))
end

local function output_len(self, c)
  C.cq_conn_output(c.cq, self.size)
  return tonumber(self.size[0])
end

-- Whether a connection may go back to the keepalive pool.
local function poolable(self, c)
  return c.phase == "open" and c.sock and not c.events and not c.keyspace_changed and not c.read_error
    and not (c.authenticated and not c.credentials_key)
    and C.cq_conn_get_state(c.cq) == STATE_READY and held(c) == 0 and output_len(self, c) == 0
end

local function defer(self, c, kind, text, extra)
  self.deferred[#self.deferred + 1] = { c, kind, text, extra }
end

local function dispatch(c, ev)
  local ok, err = pcall(c.handler, ev)
  if not ok then log.error("cql.host.ngx: an event handler failed: ", err) end
end

-- Ends a connection: back to the keepalive pool when poolable, else closed.
local function finish(self, c, reason)
  if c.phase == "closed" then return end
  if c.reading then -- a light thread is reading it; it finishes it afterwards
    c.close_requested = reason or "closed by the client"
    return
  end
  if poolable(self, c) then
    local ok, err = c.sock:setkeepalive(NgxHost.keepalive.idle_timeout * 1000, NgxHost.keepalive.pool_size)
    if ok then
      local list = idle[c.pool]
      if not list then
        list = {}
        idle[c.pool] = list
      end
      list[#list + 1] = c.cq
      if #list > NgxHost.keepalive.pool_size then table.remove(list, 1) end
      count("pooled")
      c.phase, c.sock = "closed", nil
      c.cq = nil
      defer(self, c, EV_CLOSED, reason or "returned to the keepalive pool")
      return
    end
    log.debug("cql.host.ngx: setkeepalive failed (", err, "), closing")
  end
  C.cq_conn_close(c.cq, reason or "closed by the client")
  if c.sock then c.sock:close() end
  c.sock = nil
  count("closed")
  c.phase = "closing" -- the FAILED and CLOSED events are dispatched at the next turn
  self.pending_events = true
end

--- Closes a connection (or returns it to the keepalive pool); its CLOSED
-- event follows at the next turn.
function NgxHost:close(id, reason)
  local c = self.conns[id]
  if not c or c.phase == "closed" then return ERR_CLOSED end
  if c.phase == "new" then
    C.cq_conn_close(c.cq, reason or "closed by the client")
    c.phase = "closing"
    self.pending_events = true
    return 0
  end
  finish(self, c, reason)
  return 0
end

-- Prepared statements: the RESULT of a PREPARE, by connection settings
-- and query, shared by the workers through `lua_shared_dict cqlua_prepared`
-- when it exists (else kept per worker). A PREPARE found there is answered
-- without a round trip; an UNPREPARED from any node empties the cache (a
-- generation number in the key), so the re-prepare that follows reaches the
-- server.
local local_prepared, local_prepared_n = {}, 0

local function prepared_store()
  return ngx.shared and ngx.shared.cqlua_prepared
end

local function prepared_key(c, request)
  local q = request.u.prepare.query
  local ks = request.u.prepare.keyspace
  local store = prepared_store()
  local gen = store and (store:get("gen") or 0) or NgxHost.prepared_generation
  return "p" .. gen .. ":" .. ngx.md5(table.concat({ c.pool, tostring(C.cq_conn_version(c.cq)),
    ks.p ~= nil and ffi.string(ks.p, ks.len) or "", ffi.string(q.p, q.len) }, "\0"))
end

local function prepared_get(key)
  local store = prepared_store()
  if store then return store:get(key) end
  return local_prepared[key]
end

local function prepared_set(key, body)
  local store = prepared_store()
  if store then
    store:set(key, body)
    return
  end
  if local_prepared_n >= 1000 then local_prepared, local_prepared_n = {}, 0 end
  if not local_prepared[key] then local_prepared_n = local_prepared_n + 1 end
  local_prepared[key] = body
end

local function prepared_invalidate()
  local store = prepared_store()
  if store then store:incr("gen", 1, 0) end
  NgxHost.prepared_generation = NgxHost.prepared_generation + 1
  local_prepared, local_prepared_n = {}, 0
  count("prepared_invalidations")
end

-- The node list a Cluster reads when it connects (control.lua's queries):
-- answers kept per connection settings for `system_cache_ttl` seconds, in
-- this worker, so that a Cluster made per request does not query the
-- system tables every time.
local SYSTEM_QUERIES = {
  ["SELECT * FROM system.local WHERE key = 'local'"] = true,
  ["SELECT * FROM system.peers_v2"] = true,
  ["SELECT * FROM system.peers"] = true,
}
local system_cache = {} -- key -> {body, expires}

local function system_key(c, request)
  local q = request.u.query
  if q.params.paging_state.p ~= nil then return nil end
  local text = ffi.string(q.query.p, q.query.len)
  if not SYSTEM_QUERIES[text] then return nil end
  return c.pool .. "|" .. tonumber(C.cq_conn_version(c.cq)) .. "|" .. text
end

-- Looks at a RESPONSE before its handler: a USE changes what pooling may
-- assume; a PREPARE's RESULT is cached; an UNPREPARED invalidates the cache.
-- Warnings and the like before the message are skipped: a server under
-- prepared-statement cache pressure warns on every PREPARE for a minute,
-- which must not turn the cache off (nor hide a USE).
local function inspect(c, ev)
  local h = ev.frame.header
  local b, n = ev.frame.body, tonumber(ev.frame.body_len)
  local uid = tonumber(ev.user_id)
  local key = c.prepares and c.prepares[uid]
  if key then c.prepares[uid] = nil end
  -- The codec's own answer to where the message starts (after tracing id,
  -- warnings and custom payload).
  local at = tonumber(C.cq_response_message_offset(h.version, h.flags, b, n))
  if at < 0 or n - at < 4 then return end
  if type(key) == "table" then -- a system query: rows, all in one page, nothing before them
    if h.opcode == OP_RESULT and at == 0 and b[3] == 2 and n >= 8 and bit.band(b[7], 0x02) == 0 then
      system_cache[key.key] = { ffi.string(b, n), ngx.now() + NgxHost.system_cache_ttl }
    end
    return
  end
  if h.opcode == OP_RESULT and b[at] == 0 and b[at + 1] == 0 and b[at + 2] == 0 then
    if b[at + 3] == 3 then
      c.keyspace_changed = true
    elseif b[at + 3] == 4 and key then
      -- Cached without what preceded it: a hit is answered with no flags.
      prepared_set(key, ffi.string(b + at, n - at))
    end
  elseif h.opcode == OP_ERROR and b[at] == 0 and b[at + 1] == 0 and b[at + 2] == 0x25 and b[at + 3] == 0 then
    prepared_invalidate()
  end
end

--- Queues a request (a cq_request cdata); it is written at the next turn.
-- Returns 0 or a negative cq_status.
function NgxHost:send(id, request, flags, user_id, deadline_ms)
  check_context(self)
  local c = self.conns[id]
  if not c or c.phase == "closed" then return ERR_CLOSED end
  if c.phase ~= "open" then return ERR_STATE end
  if request.opcode == OP_QUERY and NgxHost.system_cache_ttl > 0 then
    local key = system_key(c, request)
    if key then
      local hit = system_cache[key]
      if hit and hit[2] > ngx.now() then
        count("system_hits")
        defer(self, c, EV_RESPONSE, "", { user_id = user_id, version = C.cq_conn_version(c.cq), body = hit[1] })
        return 0
      end
      system_cache[key] = nil
      local rc = C.cq_conn_send_request(c.cq, request, flags or 0, user_id, deadline_ms or 0, nil)
      if rc == 0 then
        c.prepares = c.prepares or {}
        c.prepares[tonumber(user_id)] = { key = key }
      end
      return rc
    end
  end
  if request.opcode == OP_PREPARE and NgxHost.cache_prepared and not c.keyspace_changed then
    local key = prepared_key(c, request)
    local body = prepared_get(key)
    if body then
      count("prepare_hits")
      defer(self, c, EV_RESPONSE, "", { user_id = user_id, version = C.cq_conn_version(c.cq), body = body })
      return 0
    end
    count("prepare_misses")
    local rc = C.cq_conn_send_request(c.cq, request, flags or 0, user_id, deadline_ms or 0, nil)
    if rc == 0 then
      c.prepares = c.prepares or {}
      c.prepares[tonumber(user_id)] = key
    end
    return rc
  end
  return C.cq_conn_send_request(c.cq, request, flags or 0, user_id, deadline_ms or 0, nil)
end

-- Hands every pending event of `c` to its handler.
local function drain(self, c)
  local cq, ev = c.cq, c.ev
  if cq == nil then return end
  while C.cq_conn_next_event(cq, ev) == 1 do
    local kind = ev.kind
    if kind == EV_RESPONSE then
      inspect(c, ev)
    elseif kind == EV_READY then
      c.phase = "open"
    elseif kind == EV_AUTHENTICATE then
      c.authenticated = true
    end
    if kind == EV_CLOSED then
      if c.sock then
        c.sock:close()
        c.sock = nil
        count("closed")
      end
      c.phase = "closed"
      self.conns[c.id] = nil
      self.conn_list = nil
      dispatch(c, ev)
      return
    end
    dispatch(c, ev)
  end
end

-- An event made here: READY for a pooled socket, CLOSED for a pool
-- return, RESPONSE for a PREPARE answered from the cache (`extra` has
-- user_id, version and body).
local function synthetic(c, kind, text, extra)
  local ev = ffi.new("cq_conn_event")
  ev.kind = kind
  local buf = ffi.new("char[?]", #(text or "") + 1, text or "")
  ev.text = buf
  local body = extra and extra.body
  if extra then
    ev.user_id = extra.user_id
    local f = ev.frame
    f.header.version, f.header.response, f.header.opcode = extra.version, 1, OP_RESULT
    f.header.length = #body
    f.body, f.body_len = ffi.cast("const uint8_t *", body), #body
  end
  -- The event points into `buf` and `body`: they stay referenced from the
  -- connection record until its next made-up event, which no compiled
  -- trace can drop (a local read after the dispatch is no such guarantee).
  c.event_text, c.event_body = buf, body
  dispatch(c, ev)
end

-- Writes everything the connection queued.
local function flush(self, c)
  if c.writing or not c.sock then return true end
  c.writing = true
  local size = self.size
  while c.cq ~= nil and c.sock do
    local p = C.cq_conn_output(c.cq, size)
    local n = tonumber(size[0])
    if n == 0 then break end
    local data = ffi.string(p, n)
    c.sock:settimeout(math.floor(c.timeout * 1000))
    local sent, err = c.sock:send(data)
    NgxHost.stats.bytes_out = NgxHost.stats.bytes_out + n
    if not sent then
      c.writing = false
      c.read_error = true
      C.cq_conn_eof(c.cq, "write failed: " .. tostring(err))
      c.phase = "closing"
      self.pending_events = true
      return false
    end
    if c.cq ~= nil then C.cq_conn_consumed(c.cq, n) end
  end
  c.writing = false
  return true
end

-- The TCP (and TLS) connect of a new connection, then the handshake or,
-- for a socket reused from the pool, its idle state machine.
local function open(c)
  for _ = 1, 4 do
    local sock = ngx.socket.tcp()
    sock:settimeout(math.floor(c.timeout * 1000))
    local ok, err = sock:connect(c.address, c.port, { pool = c.pool })
    if not ok then
      C.cq_conn_eof(c.cq, ("cannot connect to %s:%s: %s"):format(c.address, tostring(c.port), tostring(err)))
      return
    end
    local reused = sock:getreusedtimes() or 0
    if reused == 0 then
      if c.tls then
        local client, done, serr = c.tls.client, true, nil
        if client then done, serr = sock:setclientcert(client.chain, client.pkey) end
        if done then done, serr = sock:sslhandshake(false, c.tls_sent, c.tls.verify) end
        if done and not sock:getreusedtimes() then
          -- lua-nginx-module 0.10.23 at times reports success for a handshake
          -- whose certificate check failed, and has closed the socket.
          done, serr = false, "closed"
        end
        if not done then
          sock:close()
          C.cq_conn_eof(c.cq, tls_failure(c, serr))
          return
        end
      end
      c.sock = sock
      c.phase = "handshake"
      count(c.events and "control_handshakes" or "handshakes")
      C.cq_conn_start(c.cq, now_ms())
      return
    end
    local list = idle[c.pool]
    local cq = list and table.remove(list)
    if cq then
      c.sock, c.cq, c.phase = sock, cq, "open"
      count("reused")
      synthetic(c, EV_READY, "")
      return
    end
    -- A pooled socket whose state machine this worker no longer has
    -- (should not happen): drop it and take another.
    sock:close()
  end
  C.cq_conn_eof(c.cq, "cannot get a usable connection from the keepalive pool")
end

-- Reads once from `c` (at most `wait` seconds); what arrives goes to its
-- inbox, and `done` (a semaphore) is posted when given.
local function read_once(c, wait, done)
  local sock = c.sock
  if sock then
    c.reading = true
    sock:settimeout(math.max(1, math.floor(wait * 1000)))
    local data, err = sock:receiveany(READ_SIZE)
    c.reading = false
    if data then
      NgxHost.stats.bytes_in = NgxHost.stats.bytes_in + #data
      c.inbox[#c.inbox + 1] = data
    elseif err ~= "timeout" then
      c.eof = err or "closed"
    end
  end
  c.reader = nil
  if done then done:post(1) end
end

-- Whether to read from `c` now: during the handshake, with answers owed,
-- and always when it follows events (or the host follows them: a long-lived
-- control context notices a lost connection at once).
local function expects_input(self, c)
  if c.phase == "handshake" then return true end
  return c.phase == "open" and (held(c) > 0 or c.events or self.follow_events == true)
end

-- The connections in the order they were opened (ids increase), built
-- again only after one was added or removed: a turn walks them several
-- times. Callers iterate the list they got; a change makes a new one.
local function by_id(a, b) return a.id < b.id end
local function sorted_conns(self)
  local list = self.conn_list
  if list then return list end
  list = {}
  for _, c in pairs(self.conns) do list[#list + 1] = c end
  table.sort(list, by_id)
  self.conn_list = list
  return list
end

-- Runs functions at once (inline for one, as light threads for several)
-- until all have returned.
local function run_parallel(fns)
  if #fns == 1 then return fns[1]() end
  local threads = {}
  for i = 1, #fns do threads[i] = ngx.thread.spawn(fns[i]) end
  for i = 1, #threads do ngx.thread.wait(threads[i]) end
end

-- Feeds what readers brought in and handles lost connections and closes
-- asked for while a read was pending. Returns true when anything happened.
local function absorb(self)
  local any = false
  local nms
  for _, c in ipairs(sorted_conns(self)) do
    if not c.reading then
      local got = false
      local inbox = c.inbox
      if #inbox > 0 then
        c.inbox = {}
        nms = nms or now_ms()
        for i = 1, #inbox do
          if c.cq ~= nil then C.cq_conn_feed(c.cq, inbox[i], #inbox[i], nms) end
        end
        got = true
      end
      if c.eof then
        if c.cq ~= nil and c.phase ~= "closed" then
          c.read_error = true
          C.cq_conn_eof(c.cq, "connection lost: " .. tostring(c.eof))
        end
        c.eof = nil
        got = true
      end
      if got then any = true end
      if got and c.cq ~= nil and c.phase ~= "closed" then drain(self, c) end
      if c.close_requested and c.phase ~= "closed" then
        local reason = c.close_requested
        c.close_requested = nil
        finish(self, c, reason)
        any = true
      end
    end
  end
  return any
end


local function drive(self, timeout)
  ngx.update_time()
  local progress = absorb(self)
  -- Events of closes and pool returns, then closing state machines.
  if #self.deferred > 0 then
    local d = self.deferred
    self.deferred = {}
    for i = 1, #d do
      local c, kind, text, extra = d[i][1], d[i][2], d[i][3], d[i][4]
      if kind == EV_CLOSED then
        self.conns[c.id] = nil
        self.conn_list = nil
      end
      synthetic(c, kind, text, extra)
    end
    progress = true
  end
  local conns = sorted_conns(self)
  if self.pending_events then
    self.pending_events = false
    for _, c in ipairs(conns) do
      if c.phase == "closing" then
        drain(self, c)
        progress = true
      end
    end
  end
  -- Connects.
  local fns = {}
  for _, c in ipairs(conns) do
    if c.phase == "new" then
      c.phase = "connecting"
      fns[#fns + 1] = function() open(c) end
    end
  end
  if #fns > 0 then
    run_parallel(fns)
    ngx.update_time()
    for _, c in ipairs(conns) do
      if c.phase ~= "closed" then drain(self, c) end
    end
    progress = true
  end
  -- Timers and deadlines.
  local now = ngx.now()
  local timers = self.timers
  if #timers > 0 then
    local keep, due = {}, {}
    for i = 1, #timers do
      local t = timers[i]
      if t.fn then
        if t.at <= now then due[#due + 1] = t else keep[#keep + 1] = t end
      end
    end
    self.timers = keep
    table.sort(due, function(a, b) return a.at < b.at end)
    for _, t in ipairs(due) do
      local ok, err = pcall(t.fn)
      if not ok then log.error("cql.host.ngx: a timer callback failed: ", err) end
      progress = true
    end
  end
  local nms = now_ms()
  for _, c in ipairs(conns) do
    if c.cq ~= nil and c.phase ~= "closed" and tonumber(C.cq_conn_next_deadline(c.cq)) <= nms then
      C.cq_conn_tick(c.cq, nms)
      drain(self, c)
      progress = true
    end
  end
  -- Writes.
  for _, c in ipairs(sorted_conns(self)) do
    if c.sock and c.cq ~= nil and c.phase ~= "closed" then
      if not flush(self, c) then
        drain(self, c)
        progress = true
      end
    end
  end
  if progress then return end
  -- Wait: for bytes, a timer, a deadline or the caller's timeout.
  local wait = timeout or MAX_WAIT
  for _, t in ipairs(self.timers) do
    if t.fn then wait = math.min(wait, t.at - now) end
  end
  local readers = {}
  for _, c in ipairs(sorted_conns(self)) do
    if c.cq ~= nil and c.phase ~= "closed" then
      local d = tonumber(C.cq_conn_next_deadline(c.cq))
      if d < 9e18 then wait = math.min(wait, (d - nms) / 1000) end
      if expects_input(self, c) and c.sock then readers[#readers + 1] = c end
    end
  end
  wait = math.max(wait, 0.001)
  if #readers == 0 then
    -- Nothing can complete a future unless a timer or deadline is due, or
    -- another light thread acts. With none of those for STALL_LIMIT
    -- seconds the wait is a bug (a future nothing will complete): fail it
    -- rather than hold the request forever.
    local pending = #self.timers > 0 or wait < (timeout or MAX_WAIT)
    if pending or timeout then
      self.stalled_since = nil
    else
      self.stalled_since = self.stalled_since or now
      if now - self.stalled_since > NgxHost.STALL_LIMIT then
        self.stalled_since = nil
        error("cql.host.ngx: waiting for a result that nothing can produce (no connection expects "
          .. "data, no timer or deadline is set)", 0)
      end
      wait = math.min(wait, 0.05)
    end
    ngx.sleep(wait)
    return
  end
  self.stalled_since = nil
  -- Reading: inline when one connection is to be read and no reader thread
  -- is pending; else one light thread per connection, never killed (killing
  -- a thread blocked on a cosocket closes that socket): each ends with its
  -- read, at most READER_WAIT seconds, and posts the semaphore this waits on.
  local spawn, pending = {}, 0
  for _, c in ipairs(readers) do
    if c.reader then pending = pending + 1 else spawn[#spawn + 1] = c end
  end
  if pending == 0 and #spawn == 1 then
    read_once(spawn[1], wait)
  else
    local rwait = math.min(wait, READER_WAIT)
    for _, c in ipairs(spawn) do
      c.reader = true
      NgxHost.stats.reader_threads = NgxHost.stats.reader_threads + 1
      local t, err = ngx.thread.spawn(read_once, c, rwait, self.io_sema)
      if not t then
        c.reader = nil
        error("cql.host.ngx: cannot start a reader: " .. tostring(err), 0)
      end
    end
    self.io_sema:wait(math.min(wait, READER_WAIT))
  end
  ngx.update_time()
  absorb(self)
  -- Answers may have queued more (handshake steps, retries).
  for _, c in ipairs(sorted_conns(self)) do
    if c.sock and c.cq ~= nil and c.phase ~= "closed" and not flush(self, c) then drain(self, c) end
  end
end

--- One round: connect, write, fire due timers and deadlines, then wait at
-- most `timeout` seconds for bytes and dispatch what they complete. When
-- another light thread of the request is driving, waits for its round.
function NgxHost:turn(timeout)
  check_context(self)
  if self.driving then
    -- Write what this thread queued (a write may run beside the driver's
    -- read), then wait for the driver's round.
    for _, c in ipairs(sorted_conns(self)) do
      if c.sock and c.cq ~= nil and c.phase == "open" then flush(self, c) end
    end
    self.sema:wait(math.min(timeout or MAX_WAIT, MAX_WAIT))
    return
  end
  self.driving = true
  local ok, err = pcall(drive, self, timeout)
  self.driving = false
  local waiting = -self.sema:count()
  if waiting > 0 then self.sema:post(waiting) end
  if not ok then error(err, 0) end
end

--- Open connections (for tests and shutdown checks).
function NgxHost:connection_count()
  local n = 0
  for _, c in pairs(self.conns) do
    if c.phase ~= "closed" then n = n + 1 end
  end
  return n
end

--- Idle pooled state machines this worker holds for `pool` (tests).
function NgxHost.idle_count(pool)
  local n = 0
  for name, list in pairs(idle) do
    if pool == nil or name == pool then n = n + #list end
  end
  return n
end

return NgxHost
