--- Shared pieces of the operations tools (`cqlua shell`, `migrate`,
-- `unload`, `load`, `status`): connecting (round robin over every node, so
-- that each has a pool and a request can name its host with the `host`
-- option), reading the schema and token map, quoting identifiers, one-line
-- error messages and option parsing.
-- @module cql.tools.common
local M = {}

--- Connects a Cluster (contact points and credentials from the runner's
-- defaults) and a session; returns cluster, session or nil, err.
-- @tparam[opt] table opts keyspace, cluster (extra Cluster options)
function M.connect(opts)
  opts = opts or {}
  local copts = {}
  for k, v in pairs(opts.cluster or {}) do copts[k] = v end
  copts.load_balancing_policy = copts.load_balancing_policy or require("cql.policies").RoundRobinPolicy()
  local cluster = require("cql.cluster").Cluster(copts)
  local session, err = cluster:connect(opts.keyspace)
  if not session then
    cluster:shutdown()
    return nil, err
  end
  return cluster, session
end

--- An `execute(q, p)` function over a session, as cql.metadata wants.
function M.executor(session)
  return function(q, p)
    local rs, e = session:execute(q, p, { consistency_level = 1 })
    if not rs then return nil, e end
    return rs:all()
  end
end

--- The cluster's Metadata with the schema and the token map: the
-- cluster's own when it keeps one (`cluster.metadata`), else one built
-- here from the session. Returns metadata or nil, err.
function M.metadata(cluster, session, refresh)
  local Metadata = require "cql.metadata"
  local md = cluster.metadata
  if md and not refresh and next(md.keyspaces or {}) and md.token_map then return md end
  local execute = M.executor(session)
  if md and cluster.refresh_schema_metadata then
    local ok, err = cluster:refresh_schema_metadata()
    if not ok then return nil, err end
    if md.token_map then return md end
  else
    md = Metadata.new()
    local ok, err = md:refresh_schema(execute)
    if not ok then return nil, err end
  end
  local rows, perr = execute("SELECT partitioner FROM system.local WHERE key = 'local'")
  if not rows then return nil, perr end
  local partitioner = rows[1] and rows[1].partitioner
  local hosts = {}
  for _, h in ipairs(cluster:all_hosts()) do
    if h.tokens and #h.tokens > 0 then hosts[#hosts + 1] = h end
  end
  local tok, terr = md:rebuild_token_map(partitioner, hosts)
  if not tok then return nil, terr end
  return md
end

local RESERVED = {}
for w in ([[add aggregate all allow alter and apply asc authorize batch begin by columnfamily create
  delete desc describe drop entries execute from full grant if in index infinity insert into keyspace
  limit modify nan norecursive not null of on or order primary rename replace revoke schema select set
  table to token truncate unlogged update use using view where with]]):gmatch("%S+") do RESERVED[w] = true end

--- A CQL identifier, double-quoted when needed.
function M.quote_ident(name)
  if name:match("^[a-z][a-z0-9_]*$") and not RESERVED[name] then return name end
  return '"' .. name:gsub('"', '""') .. '"'
end

--- One line for an error object or message.
function M.errmsg(err)
  if type(err) == "table" then
    local s = (err.name and (err.name .. ": ") or "") .. tostring(err.message or err)
    if err.errors and next(err.errors) then
      local parts = {}
      for h, e in pairs(err.errors) do parts[#parts + 1] = tostring(h) .. ": " .. M.errmsg(e) end
      table.sort(parts)
      s = s .. " (" .. table.concat(parts, "; ") .. ")"
    end
    return (s:gsub("%s*\n%s*", " "))
  end
  return (tostring(err):gsub("%s*\n%s*", " "))
end

--- Parses tool arguments. `spec` maps option names ("--dry-run") to
-- "flag" or "value"; the runner's connection flags (--hosts, --port,
-- --user, --password) are accepted too and applied to the runtime
-- defaults. Returns opts (with positional arguments in opts[1..n]) or
-- nil, message.
function M.parse_args(args, spec)
  local opts = {}
  local conn = { ["--hosts"] = true, ["--port"] = true, ["--user"] = true, ["--password"] = true }
  local i = 1
  while args[i] do
    local a = args[i]
    local name, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    if spec[name] == "flag" then
      if inline then return nil, name .. " takes no value" end
      opts[name:sub(3):gsub("-", "_")] = true
      i = i + 1
    elseif spec[name] == "value" or conn[name] then
      local v = inline or args[i + 1]
      if v == nil then return nil, name .. " needs a value" end
      if conn[name] then
        local ok, err = M.apply_connection_flag(name, v)
        if not ok then return nil, err end
      else
        opts[name:sub(3):gsub("-", "_")] = v
      end
      i = i + (inline and 1 or 2)
    elseif a == "--" then
      for k = i + 1, #args do opts[#opts + 1] = args[k] end
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option " .. a
    else
      opts[#opts + 1] = a
      i = i + 1
    end
  end
  return opts
end

--- Applies one of the runner's connection flags to cql.runtime.defaults.
function M.apply_connection_flag(name, v)
  local d = require("cql.runtime").defaults
  if name == "--hosts" then
    d.contact_points = {}
    for h in v:gmatch("[^,%s]+") do d.contact_points[#d.contact_points + 1] = h end
  elseif name == "--port" then
    local p = tonumber(v)
    if not p or p < 1 or p > 65535 or p % 1 ~= 0 then return nil, "bad port '" .. v .. "'" end
    d.port = p
  elseif name == "--user" then
    d.username = v
  elseif name == "--password" then
    d.password = v
  end
  return true
end

--- Monotonic seconds (the loop's clock).
function M.now()
  return require("cql.runtime").scheduler().host:now()
end

--- CPU seconds of this process.
function M.cpu()
  return os.clock()
end

--- Whether file descriptor `fd` (0, 1, 2) is a terminal.
local isatty
function M.isatty(fd)
  if not isatty then
    local ffi = require "ffi"
    pcall(ffi.cdef, "int isatty(int fd);")
    isatty = function(n) return ffi.C.isatty(n) == 1 end
  end
  return isatty(fd)
end

--- Splits "ks.table" (quoted parts allowed) into keyspace, table; keyspace
-- nil when absent. Unquoted names are lower-cased as CQL does.
function M.split_name(s)
  local parts = {}
  local i = 1
  while i <= #s do
    local c = s:sub(i, i)
    if c == '"' then
      parts[#parts + 1], i = require("cql.metadata.names").read_quoted(s, i)
    elseif c == "." then
      i = i + 1
    else
      local name = s:match("^[^.]+", i)
      parts[#parts + 1] = name:lower()
      i = i + #name
    end
  end
  if #parts == 1 then return nil, parts[1] end
  return parts[1], parts[2]
end

return M
