--- Schema migrations: ordered files `NNN_name.cql` / `NNN_name.lua` in a
-- directory, each applied once and recorded in a table of the cluster.
--
--     local migrate = require "cql.tools.migrate"
--     local report, err = migrate.run(session, "migrations", { dry_run = false })
--
-- * Order: by the number NNN (any count of digits; numbers must be unique).
-- * Record: `cqlua_migrations.applied (version bigint PRIMARY KEY, name,
--   checksum, applied_at, duration_ms, applied_by)`, written at QUORUM only
--   after the migration succeeded: a failing migration stops the run and
--   records nothing for it. (CQL has no transactional DDL: statements of
--   a .cql file that ran before the failing one stay applied; write
--   migrations with IF [NOT] EXISTS so they can be run again.)
-- * A .cql file is split at `;` (strings and comments minded); each
--   statement runs in turn, then the tool waits for schema agreement.
-- * A .lua file is a chunk called with `(session, cluster, info)`; it may
--   also return a function, which is then called likewise. It fails by
--   raising an error or returning `nil/false, err`.
-- * Lock: a row in `cqlua_migrations.lock` inserted with
--   `IF NOT EXISTS USING TTL` (a lightweight transaction), refreshed
--   between migrations, deleted `IF owner = me` at the end and on error;
--   a second migrator finds it held and fails (or waits `lock_wait`
--   seconds for it). A crashed migrator's lock expires after `lock_ttl`.
-- * An applied file whose checksum changed is an error (the run stops
--   before applying anything) unless `ignore_checksums`.
-- @module cql.tools.migrate
local common = require "cql.tools.common"
local cqltext = require "cql.tools.cqltext"
local murmur3 = require "cql.murmur3"

local M = {}

local QUORUM, SERIAL = 4, 8
-- Table ids derived from the keyspace and table names (ids are unique in
-- the whole cluster): two migrators creating the tables at once on
-- different nodes then create the same table, not conflicting ones.
local function table_id(ks, t)
  local function h(salt)
    local v = murmur3.murmur3("cqlua_migrations\0" .. ks .. "\0" .. t .. "\0" .. salt)
    return (require("bit").tohex(tonumber(v / 4294967296LL) % 4294967296, 8)
      .. require("bit").tohex(tonumber(v % 4294967296LL), 8))
  end
  local x = h("a") .. h("b")
  -- version 4 / RFC 4122 variant bits, so it is a well-formed UUID
  x = x:sub(1, 12) .. "4" .. x:sub(14, 16) .. "8" .. x:sub(18)
  return ("%s-%s-%s-%s-%s"):format(x:sub(1, 8), x:sub(9, 12), x:sub(13, 16), x:sub(17, 20), x:sub(21, 32))
end
M.table_id = table_id

--- The migration files of `dir`, sorted: `{version, name, path, kind,
-- text, checksum}`; or nil, err.
function M.scan(dir)
  local p = io.popen("ls -1 -- '" .. dir:gsub("'", "'\\''") .. "' 2>&1")
  local listing = p:read("*a")
  local ok = p:close()
  if not ok then return nil, "cannot list " .. dir .. ": " .. listing:gsub("\n$", "") end
  local list, seen = {}, {}
  for file in listing:gmatch("[^\n]+") do
    local digits, kind = file:match("^(%d+)_.+%.(%a+)$")
    if digits and (kind == "cql" or kind == "lua") then
      local version = tonumber(digits)
      if seen[version] then
        return nil, ("two migrations have the number %d: %s and %s"):format(version, seen[version], file)
      end
      seen[version] = file
      local path = dir .. "/" .. file
      local f, ferr = io.open(path, "rb")
      if not f then return nil, ferr end
      local text = f:read("*a")
      f:close()
      local h = murmur3.murmur3(text)
      list[#list + 1] = { version = version, name = file, path = path, kind = kind, text = text,
                          checksum = ("m3:%s:%d"):format(tostring(h):gsub("LL$", ""), #text) }
    end
  end
  table.sort(list, function(a, b) return a.version < b.version end)
  return list
end

local function exec(session, cql, params, opts)
  local rs, err = session:execute(cql, params, opts)
  if not rs then return nil, err end
  return rs
end

-- Creates the bookkeeping keyspace and tables when missing.
local function ensure_tables(session, ks, replication)
  local q = common.quote_ident(ks)
  local steps = {
    ("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s"):format(q, replication),
    ("CREATE TABLE IF NOT EXISTS %s.applied (version bigint PRIMARY KEY, name text, checksum text, "
      .. "applied_at timestamp, duration_ms bigint, applied_by text) WITH ID = %s"):format(q, table_id(ks, "applied")),
    ("CREATE TABLE IF NOT EXISTS %s.lock (name text PRIMARY KEY, owner text, acquired_at timestamp) "
      .. "WITH ID = %s"):format(q, table_id(ks, "lock")),
  }
  for _, s in ipairs(steps) do
    local ok, err = exec(session, s)
    if not ok then return nil, err end
  end
  return true
end

local function table_exists(session, ks)
  local rs, err = exec(session, "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s "
    .. "AND table_name = 'applied'", { ks })
  if not rs then return nil, err end
  return rs:one() ~= nil
end

--- The applied migrations recorded in keyspace `ks`: version -> row.
function M.applied(session, ks)
  local exists, err = table_exists(session, ks)
  if exists == nil then return nil, err end
  if not exists then return {} end
  local rs, rerr = exec(session, "SELECT * FROM " .. common.quote_ident(ks) .. ".applied", nil,
                        { consistency_level = QUORUM })
  if not rs then return nil, rerr end
  local rows, aerr = rs:all()
  if not rows then return nil, aerr end
  local out = {}
  for _, r in ipairs(rows) do out[tonumber(r.version)] = r end
  return out
end

local function owner_id()
  local h = io.popen("hostname 2>/dev/null")
  local host = h and h:read("*l") or "?"
  if h then h:close() end
  local f = io.open("/proc/self/stat")
  local pid = f and f:read("*n") or 0
  if f then f:close() end
  return ("%s:%d:%06d"):format(host, pid, math.random(0, 999999))
end

local Lock = {}
Lock.__index = Lock

-- Tries to take the lock once: true, or false and the holder's row, or nil, err.
function Lock:try()
  local rs, err = exec(self.session, ("INSERT INTO %s.lock (name, owner, acquired_at) VALUES ('migrate', %%s, "
    .. "toTimestamp(now())) IF NOT EXISTS USING TTL %d"):format(self.q, self.ttl), { self.owner },
    { serial_consistency_level = SERIAL, consistency_level = QUORUM })
  if not rs then return nil, err end
  if rs:was_applied() then return true end
  return false, rs:one()
end

function Lock:refresh()
  local rs, err = exec(self.session, ("UPDATE %s.lock USING TTL %d SET owner = %%s, acquired_at = toTimestamp(now()) "
    .. "WHERE name = 'migrate' IF owner = %%s"):format(self.q, self.ttl), { self.owner, self.owner },
    { serial_consistency_level = SERIAL, consistency_level = QUORUM })
  if not rs then return nil, err end
  if not rs:was_applied() then return nil, "lost the migration lock (it expired and another migrator took it)" end
  return true
end

function Lock:release()
  return exec(self.session, ("DELETE FROM %s.lock WHERE name = 'migrate' IF owner = %%s"):format(self.q),
              { self.owner }, { serial_consistency_level = SERIAL, consistency_level = QUORUM })
end

--- Takes the migration lock, waiting up to `wait` seconds; returns a lock
-- or nil, err.
function M.lock(session, ks, ttl, wait)
  local self = setmetatable({ session = session, q = common.quote_ident(ks), ttl = ttl or 600,
                              owner = owner_id() }, Lock)
  local deadline = common.now() + (wait or 0)
  while true do
    local ok, holder = self:try()
    if ok == nil then return nil, holder end
    if ok then return self end
    if common.now() >= deadline then
      return nil, ("another migrator holds the lock (owner %s since %s); it expires by itself after at most %d s")
        :format(tostring(holder and holder.owner), tostring(holder and holder.acquired_at), self.ttl)
    end
    require("cql.runtime").sleep(0.5)
  end
end

-- Runs one migration; returns the number of statements or nil, err.
local function apply(session, cluster, m, out)
  if m.kind == "cql" then
    local stmts, rest = cqltext.split(m.text)
    if rest:match("%S") then stmts[#stmts + 1] = rest:match("^%s*(.-)%s*$") end
    for i, s in ipairs(stmts) do
      local ok, err = exec(session, s, nil, { timeout = 60 })
      if not ok then
        return nil, ("statement %d of %d failed: %s [%s]"):format(i, #stmts, common.errmsg(err),
                                                                  (s:gsub("%s+", " "):sub(1, 80)))
      end
    end
    return #stmts
  end
  local fn, perr = loadstring(m.text, "@" .. m.path)
  if not fn then return nil, perr end
  local info = { version = m.version, name = m.name, print = out }
  local ok, r1, r2 = pcall(fn, session, cluster, info)
  if ok and type(r1) == "function" then ok, r1, r2 = pcall(r1, session, cluster, info) end
  if not ok then return nil, "error: " .. tostring(r1) end
  if r1 == false or (r1 == nil and r2 ~= nil) then return nil, common.errmsg(r2 or "returned false") end
  return 1
end

--- Applies the pending migrations of `dir`.
-- @param session a connected session
-- @tparam string dir
-- @tparam[opt] table opts dry_run, keyspace (default "cqlua_migrations"),
--   replication (a CQL map literal), lock_ttl (600 s), lock_wait (0 s),
--   agreement_timeout (60 s), ignore_checksums, print (a function taking
--   a line; default print), cluster (for .lua migrations)
-- @return a report `{applied = {...names}, skipped = n, pending = {...}}`,
--   or nil, err (err.report holds what was done before)
function M.run(session, dir, opts)
  opts = opts or {}
  local out = opts.print or print
  local ks = opts.keyspace or "cqlua_migrations"
  local replication = opts.replication or "{'class': 'SimpleStrategy', 'replication_factor': 1}"
  local list, err = M.scan(dir)
  if not list then return nil, err end
  local report = { applied = {}, skipped = 0, pending = {} }
  local function fail(e)
    return nil, setmetatable({ message = common.errmsg(e), report = report },
                             { __tostring = function(x) return x.message end })
  end

  local function pending_of(applied)
    local pending = {}
    for _, m in ipairs(list) do
      local a = applied[m.version]
      if a then
        if a.checksum ~= m.checksum and not opts.ignore_checksums then
          return nil, ("%s was changed after it was applied (checksum %s, recorded %s); "
            .. "restore it or run with --ignore-checksums"):format(m.name, m.checksum, tostring(a.checksum))
        end
      else
        pending[#pending + 1] = m
      end
    end
    return pending
  end

  if opts.dry_run then
    local applied, aerr = M.applied(session, ks)
    if not applied then return fail(aerr) end
    local pending, perr = pending_of(applied)
    if not pending then return fail(perr) end
    report.skipped = #list - #pending
    out(("%d migration(s) in %s: %d applied, %d pending"):format(#list, dir, report.skipped, #pending))
    for _, m in ipairs(pending) do
      local what = m.kind == "cql" and (#cqltext.split(m.text .. ";") .. " statement(s)") or "Lua"
      out(("would apply %s (%s)"):format(m.name, what))
      report.pending[#report.pending + 1] = m.name
    end
    return report
  end

  local ok, terr = ensure_tables(session, ks, replication)
  if not ok then return fail(terr) end
  local lock, lerr = M.lock(session, ks, opts.lock_ttl, opts.lock_wait)
  if not lock then return fail(lerr) end
  local result, rerr
  local ran, perr = pcall(function()
    local applied, aerr = M.applied(session, ks)
    if not applied then
      rerr = aerr
      return
    end
    local pending, pend_err = pending_of(applied)
    if not pending then
      rerr = pend_err
      return
    end
    report.skipped = #list - #pending
    if #pending == 0 then out(("nothing to apply (%d migration(s) already applied)"):format(#list)) end
    for _, m in ipairs(pending) do
      local fine, lock_err = lock:refresh()
      if not fine then
        rerr = lock_err
        return
      end
      local t0 = common.now()
      local n, merr = apply(session, opts.cluster, m, out)
      if not n then
        rerr = ("%s failed, nothing recorded for it: %s"):format(m.name, common.errmsg(merr))
        return
      end
      if not session:wait_for_schema_agreement(opts.agreement_timeout or 60) then
        rerr = ("%s ran, but the nodes did not agree on the schema within %d s; not recorded, stopping")
          :format(m.name, opts.agreement_timeout or 60)
        return
      end
      local ms = math.floor((common.now() - t0) * 1000 + 0.5)
      local rec, recerr = exec(session, ("INSERT INTO %s.applied (version, name, checksum, applied_at, duration_ms, "
        .. "applied_by) VALUES (%%s, %%s, %%s, toTimestamp(now()), %%s, %%s)"):format(common.quote_ident(ks)),
        { m.version, m.name, m.checksum, ms, lock.owner }, { consistency_level = QUORUM })
      if not rec then
        rerr = ("%s ran but recording it failed: %s"):format(m.name, common.errmsg(recerr))
        return
      end
      report.applied[#report.applied + 1] = m.name
      out(("applied %s (%d statement(s), %.2f s)"):format(m.name, n, ms / 1000))
    end
    result = report
  end)
  local released, relerr = lock:release()
  if not ran then return fail(perr) end
  if not result then return fail(rerr) end
  if not released then return fail("releasing the lock failed: " .. common.errmsg(relerr)) end
  return result
end

M.USAGE = [[
usage: cqlua [connection flags] migrate DIR [options]
  --dry-run             print the plan (pending migrations) and change nothing
  --keyspace KS         where the record and lock tables live (cqlua_migrations)
  --replication MAP     its replication when created, a CQL map literal
                        (default {'class': 'SimpleStrategy', 'replication_factor': 1})
  --lock-wait SECONDS   wait this long for another migrator's lock (default 0: fail)
  --lock-ttl SECONDS    the lock expires after this long without a refresh (600)
  --ignore-checksums    apply even if an applied file changed since
Files: NNN_name.cql (statements separated by ';') or NNN_name.lua (called
with session, cluster, info), applied in the order of NNN.]]

--- The `cqlua migrate` subcommand; returns an exit status.
function M.main(args)
  local opts, perr = common.parse_args(args, {
    ["--dry-run"] = "flag", ["--keyspace"] = "value", ["--replication"] = "value", ["--lock-wait"] = "value",
    ["--lock-ttl"] = "value", ["--ignore-checksums"] = "flag", ["--help"] = "flag", ["--agreement-timeout"] = "value",
  })
  if not opts then
    io.stderr:write("cqlua migrate: ", perr, "\n", M.USAGE, "\n")
    return 2
  end
  if opts.help then
    print(M.USAGE)
    return 0
  end
  if #opts ~= 1 then
    io.stderr:write("cqlua migrate: one directory expected\n", M.USAGE, "\n")
    return 2
  end
  for _, k in ipairs { "lock_wait", "lock_ttl", "agreement_timeout" } do
    if opts[k] then
      local v = tonumber(opts[k])
      if not v or v < 0 then
        io.stderr:write("cqlua migrate: bad --", k:gsub("_", "-"), " '", opts[k], "'\n")
        return 2
      end
      opts[k] = v
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  local cluster, session = common.connect()
  if not cluster then
    io.stderr:write("cqlua migrate: cannot connect: ", common.errmsg(session), "\n")
    return 1
  end
  opts.cluster = cluster
  local report, err = M.run(session, opts[1], opts)
  cluster:shutdown()
  if not report then
    io.stderr:write("cqlua migrate: ", tostring(err), "\n")
    return 1
  end
  if not opts.dry_run then
    print(("%d applied, %d already applied"):format(#report.applied, report.skipped))
  end
  return 0
end

return M
