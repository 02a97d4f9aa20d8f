--- Starts and stops a real nginx (Debian's nginx-light with
-- libnginx-mod-http-lua) for the OpenResty specs.
--
--     local nginx = require "spec.openresty.support.nginx"
--     local server = nginx.start()       -- 2 workers on a free loopback port
--     local body, status = server:get("/crud")
--     server:stop()                      -- kill -QUIT <master pid>, waits for it
--
-- The configuration goes into a fresh temporary prefix; the master's pid is
-- the one nginx writes there, and only that process is signalled.
local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local M = {}

local ROOT = (function()
  local src = debug.getinfo(1, "S").source:sub(2)
  local dir = src:match("^(.*)/spec/openresty/support/[^/]+$")
  if dir and dir ~= "" then return dir end
  local pwd = io.popen("pwd"):read("*l")
  return pwd
end)()
M.ROOT = ROOT

local MODULE_DIRS = { "/usr/lib/nginx/modules", "/usr/share/nginx/modules" }

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function module_path(name)
  for _, d in ipairs(MODULE_DIRS) do
    if exists(d .. "/" .. name) then return d .. "/" .. name end
  end
  return nil
end

--- Whether nginx and its Lua module are installed (else the specs skip).
function M.available()
  if not module_path("ngx_http_lua_module.so") then return false, "ngx_http_lua_module.so not found" end
  local ok = os.execute("command -v nginx >/dev/null 2>&1")
  if ok ~= 0 and ok ~= true then return false, "nginx not found" end
  return true
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == 0 or ok == true
end

local CONF = [[
daemon on;
master_process on;
worker_processes 2;
pid ${PREFIX}/nginx.pid;
error_log ${PREFIX}/error.log info;
${MODULES}
events { worker_connections 256; }
env CQLUA_LIB;
env CQLUA_TEST_HOSTS;
http {
  access_log off;
  client_body_temp_path ${PREFIX}/body;
  proxy_temp_path ${PREFIX}/proxy;
  fastcgi_temp_path ${PREFIX}/fastcgi;
  uwsgi_temp_path ${PREFIX}/uwsgi;
  scgi_temp_path ${PREFIX}/scgi;
  lua_package_path "${ROOT}/lua/?.lua;${ROOT}/lua/?/init.lua;${ROOT}/?.lua;;";
  lua_shared_dict cqlua_stats 1m;
  lua_shared_dict test_results 1m;
  lua_shared_dict cqlua_cluster 1m;
  lua_shared_dict cqlua_prepared 1m;
  lua_socket_log_errors off;
  init_worker_by_lua_block { require("spec.openresty.support.app").init_worker() }
${HTTP_EXTRA}
  server {
    listen 127.0.0.1:${PORT};
    location / {
      content_by_lua_block { require("spec.openresty.support.app").content() }
    }
    location /phase/log {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block { require("spec.openresty.support.app").in_phase("log") }
    }
    location /phase/header_filter {
      content_by_lua_block { ngx.say("ok") }
      header_filter_by_lua_block { require("spec.openresty.support.app").in_phase("header_filter") }
    }
    location /phase/body_filter {
      content_by_lua_block { ngx.say("ok") }
      body_filter_by_lua_block { require("spec.openresty.support.app").in_phase("body_filter") }
    }
    location /phase/set {
      set_by_lua_block $cql_set_result { return require("spec.openresty.support.app").in_phase("set") }
      content_by_lua_block { ngx.say(ngx.var.cql_set_result) }
    }
    location /cross_phase {
      rewrite_by_lua_block { require("spec.openresty.support.app").rewrite_make_cluster() }
      content_by_lua_block { require("spec.openresty.support.app").content() }
    }
    location /rewrite {
      rewrite_by_lua_block { require("spec.openresty.support.app").rewrite() }
      content_by_lua_block { ngx.say(ngx.ctx.rewrite_result) }
    }
    location /access {
      access_by_lua_block { require("spec.openresty.support.app").access() }
      content_by_lua_block { ngx.say(ngx.ctx.access_result) }
    }
  }
}
]]

--- The `key=value` lines the test applications answer, as a table.
function M.parse_kv(body)
  local t = {}
  for k, v in body:gmatch("([%w_]+)=([^\n]*)") do t[k] = v end
  return t
end

--- The default configuration, for specs that derive their own template.
M.CONF = CONF

local Server = {}
Server.__index = Server

--- Starts nginx; returns a server object, or raises with the error log.
-- `opts.template` replaces the configuration (with the same ${PREFIX},
-- ${ROOT}, ${PORT}, ${MODULES} and ${HTTP_EXTRA} placeholders);
-- `opts.http_extra` is text added to the default configuration's http
-- block (more directives, more `location`s in a `server`); `opts.env` is a
-- table of extra environment variables for nginx.
function M.start(opts)
  opts = opts or {}
  local ok, why = M.available()
  if not ok then error("nginx is not available: " .. why) end
  local prefix = os.tmpname()
  os.remove(prefix)
  assert(sh("mkdir -p " .. prefix .. "/logs " .. prefix .. "/conf"))
  local port = free_port()
  local modules = {}
  local ndk = module_path("ndk_http_module.so")
  if ndk then modules[#modules + 1] = "load_module " .. ndk .. ";" end
  modules[#modules + 1] = "load_module " .. module_path("ngx_http_lua_module.so") .. ";"
  local conf = (opts.template or CONF):gsub("%${([%w_]+)}", {
    PREFIX = prefix, ROOT = ROOT, PORT = tostring(port), MODULES = table.concat(modules, "\n"),
    HTTP_EXTRA = opts.http_extra or "",
  })
  local conf_path = prefix .. "/conf/nginx.conf"
  local f = assert(io.open(conf_path, "wb"))
  f:write(conf)
  f:close()
  local self = setmetatable({ prefix = prefix, port = port, conf = conf_path }, Server)
  local lib = os.getenv("CQLUA_LIB") or (ROOT .. "/build/libcqlua.so")
  local env = ""
  for k, v in pairs(opts.env or {}) do env = env .. ("%s=%q "):format(k, v) end
  local cmd = ("%sCQLUA_LIB=%q nginx -p %q -c %q -e %q/error.log 2>%q/start.err"):format(
    env, lib, prefix, conf_path, prefix, prefix)
  if not sh(cmd) then
    error("nginx failed to start:\n" .. (read_file(prefix .. "/start.err") or "")
      .. (read_file(prefix .. "/error.log") or ""))
  end
  -- The master writes its pid file once it runs; workers are up when the
  -- port answers.
  for _ = 1, 100 do
    local pid = read_file(prefix .. "/nginx.pid")
    if pid and pid:match("%d+") then
      self.pid = tonumber(pid:match("%d+"))
      local c = socket.tcp()
      c:settimeout(0.2)
      if c:connect("127.0.0.1", port) then
        c:close()
        return self
      end
      c:close()
    end
    socket.sleep(0.05)
  end
  self:stop()
  error("nginx did not come up:\n" .. (read_file(prefix .. "/error.log") or ""))
end

--- GET `path`; returns the body, the status code and the headers.
function Server:get(path, timeout)
  http.TIMEOUT = timeout or 30
  local chunks = {}
  local _, code, headers = http.request {
    url = ("http://127.0.0.1:%d%s"):format(self.port, path), sink = ltn12.sink.table(chunks),
    headers = { connection = "close" },
  }
  return table.concat(chunks), code, headers
end

--- The error log so far.
function Server:error_log()
  return read_file(self.prefix .. "/error.log") or ""
end

--- Lines of the error log at [alert], [crit] or [emerg] level, or a
-- worker exiting on a signal: what must never happen.
function Server:fatal_lines()
  local out = {}
  for line in self:error_log():gmatch("[^\n]+") do
    if line:match("%[alert%]") or line:match("%[crit%]") or line:match("%[emerg%]")
        or line:match("exited on signal") then
      out[#out + 1] = line
    end
  end
  return out
end

--- Stops nginx by its master pid (QUIT: graceful) and waits until it exits.
function Server:stop()
  if not self.pid then return end
  local pid = self.pid
  self.pid = nil
  sh("kill -QUIT " .. pid .. " 2>/dev/null")
  for _ = 1, 200 do
    if not sh("kill -0 " .. pid .. " 2>/dev/null") then break end
    socket.sleep(0.05)
  end
  if sh("kill -0 " .. pid .. " 2>/dev/null") then sh("kill -KILL " .. pid .. " 2>/dev/null") end
  if os.getenv("CQLUA_KEEP_NGINX_PREFIX") == nil then sh("rm -rf " .. self.prefix) end
end

return M
