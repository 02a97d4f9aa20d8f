--- Hosts and the connection pools sessions keep to them (the seed's
-- `cassandra.pool`).
--
-- A `Host` is one node as the cluster knows it: its address, data center,
-- rack, version, tokens and whether it is up. A `HostConnectionPool` holds
-- a session's connections to one host, all in the session's keyspace;
-- requests go to the connection with the fewest requests in flight, and
-- each connection multiplexes up to 32768 of them (the transport coalesces
-- whatever is queued into one write).
-- @module cql.pool
local Future = require "cql.future"
local Connection = require "cql.connection"
local errors = require "cql.errors"
local log = require "cql.log"

local M = {}

local Host = {}
Host.__index = Host
Host.__name = "cql.pool.Host"

--- A host at `address` (an IP literal) and `port`. `is_up` is nil until
-- the driver has tried it, then true or false.
function Host.new(address, port)
  return setmetatable({ address = address, port = port, endpoint = address .. ":" .. port }, Host)
end

function Host:__tostring()
  return ("<Host: %s %s>"):format(self.endpoint, self.datacenter or "?")
end

M.Host = Host

local Pool = {}
Pool.__index = Pool

-- USE always quotes the keyspace: the name is taken exactly as given.
local quote_identifier = require("cql.metadata.names").escape_name
M.quote_identifier = quote_identifier

--- Creates a pool of `size` connections to `host` for `session`; nothing
-- is opened until `open`.
function Pool.new(session, host, size)
  return setmetatable({ session = session, host = host, size = size, conns = {} }, Pool)
end

-- A connection of this pool closed: forget it, and unless the pool is
-- being shut down tell the cluster (which marks the host down and starts
-- reconnecting: the seed's SimpleConvictionPolicy).
local function on_close(self, conn, reason)
  for i, c in ipairs(self.conns) do
    if c == conn then
      table.remove(self.conns, i)
      break
    end
  end
  if not self.is_shutdown then
    self.session.cluster:signal_connection_failure(self.host, reason)
  end
end

--- Opens the pool's connections in parallel. Returns a future completed
-- with the pool once every attempt has finished and at least one
-- succeeded, or with the first error when none did.
function Pool:open()
  local result = Future.new(self.session.scheduler)
  local cluster = self.session.cluster
  local left, first_error = self.size, nil
  local function finished()
    left = left - 1
    if left > 0 then return end
    if #self.conns > 0 then result:set_result(self) else result:set_error(first_error) end
  end
  for _ = 1, self.size do
    local opts = cluster:connection_options(self.host, self.session.keyspace)
    opts.on_close = function(conn, reason)
      if conn.ready then on_close(self, conn, reason) end
    end
    Connection.open(cluster.scheduler, cluster.host, self.host.address, opts):add_callbacks(function(conn)
      if self.is_shutdown then
        conn:close("pool shut down")
      else
        conn.keyspace = self.session.keyspace
        self.conns[#self.conns + 1] = conn
      end
      finished()
    end, function(err)
      first_error = first_error or err
      finished()
    end)
  end
  return result
end

--- The open connection with the fewest requests in flight, or nil.
function Pool:borrow()
  local conns = self.conns
  local best, least = nil, math.huge
  for i = 1, #conns do
    local c = conns[i]
    if not c.closed then
      local n = c:in_flight()
      if n < least then best, least = c, n end
    end
  end
  return best
end

--- How many connections are open.
function Pool:open_count()
  local n = 0
  for _, c in ipairs(self.conns) do
    if not c.closed then n = n + 1 end
  end
  return n
end

--- Switches every connection to `keyspace` (USE); returns a future
-- completed once all have answered, with the first error if any failed.
-- `except` (a connection already in that keyspace) is skipped.
function Pool:set_keyspace(keyspace, timeout, except)
  local result = Future.new(self.session.scheduler)
  local pending, first_error = 1, nil
  local function finished()
    pending = pending - 1
    if pending == 0 then
      if first_error then result:set_error(first_error) else result:set_result(true) end
    end
  end
  local use = "USE " .. quote_identifier(keyspace)
  for _, conn in ipairs(self.conns) do
    if conn ~= except and not conn.closed and conn.keyspace ~= keyspace then
      pending = pending + 1
      conn:query(use, timeout):add_callbacks(function()
        conn.keyspace = keyspace
        finished()
      end, function(err)
        first_error = first_error or err
        finished()
      end)
    elseif conn == except then
      conn.keyspace = keyspace
    end
  end
  finished()
  return result
end

--- Prepares `cql` on this host: one connection suffices, a node keeps
-- prepared statements for all its clients. Returns a future for the
-- response, or a failed future when no connection is open.
function Pool:prepare(cql, timeout)
  local conn = self:borrow()
  if conn then return conn:prepare(cql, timeout) end
  local f = Future.new(self.session.scheduler)
  f:set_error(errors.ConnectionException { message = "no open connection to " .. self.host.endpoint,
                                           host = self.host.address })
  return f
end

--- Closes every connection; their requests in flight fail with
-- ConnectionShutdown.
function Pool:shutdown(reason)
  if self.is_shutdown then return end
  self.is_shutdown = true
  for _, conn in ipairs(self.conns) do conn:close(reason or "pool shut down") end
  self.conns = {}
  log.debug("pool to ", self.host.endpoint, " shut down")
end

M.HostConnectionPool = Pool
return M
