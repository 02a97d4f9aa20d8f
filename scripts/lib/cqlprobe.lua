--- A tiny, self-contained CQL client for dev tooling: scripts/cassandra uses
-- it to check that a node answers a real handshake, and the foundation specs
-- use it to read system tables. It speaks protocol v4 over luasocket
-- (luasec for TLS), decodes the handful of types system tables use, and
-- knows nothing of pools or policies. The driver itself lives in lua/cql.
local socket = require "socket"
local ffi = require "ffi"

local probe = {}

local OP = { ERROR = 0x00, STARTUP = 0x01, READY = 0x02, AUTHENTICATE = 0x03, OPTIONS = 0x05,
             SUPPORTED = 0x06, QUERY = 0x07, RESULT = 0x08, AUTH_RESPONSE = 0x0F,
             AUTH_SUCCESS = 0x10 }

local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
local function u32(n)
  if n < 0 then n = n + 4294967296 end
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                     math.floor(n / 256) % 256, n % 256)
end
local function str(s) return u16(#s) .. s end
local function longstr(s) return u32(#s) .. s end

-- A cursor over a response body.
local Reader = {}
Reader.__index = Reader
local function reader(s) return setmetatable({ s = s, i = 1 }, Reader) end
function Reader:bytes(n)
  if self.i + n - 1 > #self.s then error("cqlprobe: response truncated", 0) end
  local v = self.s:sub(self.i, self.i + n - 1)
  self.i = self.i + n
  return v
end
function Reader:u16() local a, b = self:bytes(2):byte(1, 2); return a * 256 + b end
function Reader:i32()
  local a, b, c, d = self:bytes(4):byte(1, 4)
  local n = ((a * 256 + b) * 256 + c) * 256 + d
  return n >= 2147483648 and n - 4294967296 or n
end
function Reader:string() return self:bytes(self:u16()) end
function Reader:value()
  local n = self:i32()
  if n < 0 then return nil end
  return self:bytes(n)
end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

local function be_int(s)
  local n = 0
  for i = 1, #s do n = n * 256 + s:byte(i) end
  if #s > 0 and s:byte(1) >= 128 then n = n - 2 ^ (8 * #s) end
  return n
end

-- Reads an [option] type into a small table {id=..., sub={...}}.
local function read_type(r)
  local id = r:u16()
  local t = { id = id }
  if id == 0x0000 then t.class = r:string()
  elseif id == 0x0020 or id == 0x0022 then t.sub = { read_type(r) }
  elseif id == 0x0021 then t.sub = { read_type(r), read_type(r) }
  elseif id == 0x0030 then
    r:string(); r:string()
    t.sub = {}
    for i = 1, r:u16() do r:string(); t.sub[i] = read_type(r) end
  elseif id == 0x0031 then
    t.sub = {}
    for i = 1, r:u16() do t.sub[i] = read_type(r) end
  end
  return t
end

local decode

local function decode_collection(t, v)
  local r, out = reader(v), {}
  for _ = 1, r:i32() do
    if t.id == 0x0021 then
      local k = decode(t.sub[1], r:value())
      out[#out + 1] = { k, decode(t.sub[2], r:value()) }
    else
      out[#out + 1] = decode(t.sub[1], r:value())
    end
  end
  return out
end

-- Decodes one value to a Lua value good enough for tooling: 64-bit numbers
-- as decimal strings (no precision is lost), uuids as text, inet dotted.
function decode(t, v)
  if v == nil then return nil end
  local id = t.id
  if id == 0x0001 or id == 0x000D then return v end
  if id == 0x0009 or id == 0x0013 or id == 0x0014 then return be_int(v) end
  if id == 0x0002 or id == 0x0005 or id == 0x000B then
    -- Exact int64 in decimal: LuaJIT's 64-bit cdata arithmetic wraps like Java's long.
    local n = 0ULL
    for i = 1, 8 do n = n * 256 + v:byte(i) end
    return (tostring(ffi.cast("int64_t", n)):gsub("LL$", ""))
  end
  if id == 0x0004 then return v:byte(1) ~= 0 end
  if id == 0x000C or id == 0x000F then
    local h = hex(v)
    return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. h:sub(17, 20) .. "-" .. h:sub(21)
  end
  if id == 0x0010 then
    if #v == 4 then return table.concat({ v:byte(1, 4) }, ".") end
    local parts = {}
    for i = 1, 16, 2 do parts[#parts + 1] = string.format("%x", v:byte(i) * 256 + v:byte(i + 1)) end
    return table.concat(parts, ":")
  end
  if id == 0x0020 or id == 0x0021 or id == 0x0022 then return decode_collection(t, v) end
  return "0x" .. hex(v)
end

local Conn = {}
Conn.__index = Conn

function Conn:send(opcode, body)
  self.stream = (self.stream + 1) % 32768
  local frame = string.char(4, 0) .. u16(self.stream) .. string.char(opcode) .. u32(#body) .. body
  local ok, err = self.sock:send(frame)
  if not ok then error("cqlprobe: send to " .. self.addr .. " failed: " .. tostring(err), 0) end
end

function Conn:recv()
  local header, err = self.sock:receive(9)
  if not header then error("cqlprobe: no response from " .. self.addr .. ": " .. tostring(err), 0) end
  local r = reader(header)
  local version = r:bytes(1):byte()
  r:bytes(3)
  local opcode = r:bytes(1):byte()
  local len = r:i32()
  local body = len > 0 and self.sock:receive(len) or ""
  if not body then error("cqlprobe: truncated response from " .. self.addr, 0) end
  if opcode == OP.ERROR then
    local br = reader(body)
    local code = br:i32()
    local e = { code = code, message = br:string(), host = self.addr }
    error(setmetatable(e, { __tostring = function(x)
      return string.format("%s: server error 0x%04x: %s", x.host, x.code, x.message)
    end }), 0)
  end
  if version ~= 0x84 then error("cqlprobe: unexpected version byte " .. version, 0) end
  return opcode, reader(body)
end

--- Connects and completes the handshake (OPTIONS, STARTUP, optional SASL
-- PLAIN). opts: host, port (9042), timeout (seconds, 5), user, password,
-- tls = { cafile = ..., verify = true }. Returns a connection or raises.
function probe.connect(opts)
  local host, port = opts.host or "127.0.0.1", opts.port or 9042
  local sock = socket.tcp()
  sock:settimeout(opts.timeout or 5)
  local addr = host .. ":" .. port
  local ok, err = sock:connect(host, port)
  if not ok then error("cqlprobe: cannot connect to " .. addr .. ": " .. tostring(err), 0) end
  if opts.tls then
    local ssl = require "ssl"
    local params = { mode = "client", protocol = "any", options = { "all", "no_sslv2", "no_sslv3" },
                     cafile = opts.tls.cafile, verify = opts.tls.verify == false and "none" or "peer" }
    sock, err = ssl.wrap(sock, params)
    if not sock then error("cqlprobe: TLS setup failed: " .. tostring(err), 0) end
    sock:settimeout(opts.timeout or 5)
    ok, err = sock:dohandshake()
    if not ok then error("cqlprobe: TLS handshake with " .. addr .. " failed: " .. tostring(err), 0) end
  end
  local c = setmetatable({ sock = sock, addr = addr, stream = 0 }, Conn)
  c:send(OP.OPTIONS, "")
  local op = c:recv()
  if op ~= OP.SUPPORTED then error("cqlprobe: expected SUPPORTED from " .. addr, 0) end
  c:send(OP.STARTUP, u16(1) .. str("CQL_VERSION") .. str("3.0.0"))
  op = c:recv()
  if op == OP.AUTHENTICATE then
    if not opts.user then error("cqlprobe: " .. addr .. " requires authentication", 0) end
    c:send(OP.AUTH_RESPONSE, longstr("\0" .. opts.user .. "\0" .. (opts.password or "")))
    op = c:recv()
    if op ~= OP.AUTH_SUCCESS then error("cqlprobe: authentication did not succeed", 0) end
  elseif op ~= OP.READY then
    error("cqlprobe: expected READY from " .. addr .. ", got opcode " .. op, 0)
  end
  return c
end

--- Runs a query at consistency ONE; returns rows as arrays of values and
-- the column names (nil for non-row results).
function Conn:query(cql)
  self:send(OP.QUERY, longstr(cql) .. u16(0x0001) .. string.char(0))
  local op, r = self:recv()
  if op ~= OP.RESULT then error("cqlprobe: expected RESULT", 0) end
  if r:i32() ~= 2 then return nil end
  local flags, ncols = r:i32(), r:i32()
  if flags % 4 >= 2 then r:value() end -- paging state
  local global = flags % 2 == 1
  if global then r:string(); r:string() end
  local names, types = {}, {}
  for i = 1, ncols do
    if not global then r:string(); r:string() end
    names[i] = r:string()
    types[i] = read_type(r)
  end
  local rows = {}
  for i = 1, r:i32() do
    local row = {}
    for j = 1, ncols do row[j] = decode(types[j], r:value()) end
    rows[i] = row
  end
  return rows, names
end

function Conn:close() self.sock:close() end

return probe
