-- TLS inside nginx: ssl_options through the cosocket's sslhandshake,
-- against a real TLS Cassandra node and a real nginx (2 workers). One nginx
-- trusts the node's CA (lua_ssl_trusted_certificate), another trusts an
-- unrelated CA. The node is CQLUA_TEST_TLS_HOST (with CQLUA_TEST_TLS_CA and
-- CQLUA_TEST_TLS_OTHER_CA) or one this spec starts with scripts/cassandra
-- (cluster "ngxtls" on 127.0.8.1) and stops at the end. Its certificate
-- names DNS:localhost and the node's IP address (scripts/cassandra
-- make_tls_material). Handlers: support/tls_app.lua.
local nginx = require "spec.openresty.support.nginx"

local ROOT = nginx.ROOT

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == 0 or ok == true
end

local parse = nginx.parse_kv

-- The TLS node: from the environment, or started here.
local function tls_node()
  local host = os.getenv("CQLUA_TEST_TLS_HOST")
  if host then
    local ca, other = os.getenv("CQLUA_TEST_TLS_CA"), os.getenv("CQLUA_TEST_TLS_OTHER_CA")
    if not ca or not other then
      return nil, "CQLUA_TEST_TLS_HOST is set but CQLUA_TEST_TLS_CA or CQLUA_TEST_TLS_OTHER_CA is not"
    end
    return { host = host, ca = ca, other_ca = other }
  end
  local cmd = ("cd %q && scripts/cassandra --cluster ngxtls"):format(ROOT)
  local up = cmd .. " up --tls --prefix 127.0.8. >/tmp/cqlua-ngxtls-up.log 2>&1"
  -- One more try: a node of this cluster stopped just before may still hold its ports.
  if not sh(up) and not (sh(cmd .. " down >/dev/null 2>&1") and sh(up)) then
    local f = io.open("/tmp/cqlua-ngxtls-up.log")
    local why = f and f:read("*a") or ""
    if f then f:close() end
    sh(cmd .. " down >/dev/null 2>&1")
    return nil, "cannot start a TLS Cassandra node (scripts/cassandra --cluster ngxtls up --tls): " .. why
  end
  local p = io.popen(cmd .. " env")
  local env = p:read("*a")
  p:close()
  local node = {
    host = env:match("CQLUA_TEST_HOSTS=([^%s,]+)"),
    ca = env:match("CQLUA_TEST_TLS_CA=(%S+)"),
    other_ca = env:match("CQLUA_TEST_TLS_OTHER_CA=(%S+)"),
    started = cmd,
  }
  if not (node.host and node.ca and node.other_ca) then
    sh(cmd .. " down >/dev/null 2>&1")
    return nil, "scripts/cassandra --cluster ngxtls env printed no TLS settings: " .. env
  end
  return node
end

-- nginx's default configuration plus `location /tls/`, trusting `ca`.
local function start_nginx(ca)
  local template, n = nginx.CONF:gsub("    location /phase/log {",
    "    location /tls/ {\n"
    .. "      content_by_lua_block { require(\"spec.openresty.support.tls_app\").content() }\n"
    .. "    }\n%0", 1)
  assert(n == 1, "the default nginx configuration changed: no 'location /phase/log' to insert before")
  return nginx.start {
    template = template,
    http_extra = ("  lua_ssl_trusted_certificate %s;\n  lua_ssl_verify_depth 2;\n"):format(ca),
  }
end

-- World-readable copies (nginx's workers, which load the trusted
-- certificates, run as nobody when the tests run as root) of both CAs, and
-- a client certificate signed by the node's CA when its key is at hand.
local function material(node)
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh(("mkdir -p %q && cp %q %q/ca.pem && cp %q %q/other-ca.pem"):format(dir, node.ca, dir, node.other_ca,
    dir)))
  local ca_key = node.ca:gsub("[^/]+$", "ca.key")
  local kf = io.open(ca_key)
  local have_key = kf ~= nil
  if kf then kf:close() end
  if have_key then
    have_key = sh(("cd %q && openssl req -newkey rsa:2048 -nodes -subj /CN=cqlua-client -keyout client.key "
      .. "-out client.csr 2>/dev/null && openssl x509 -req -in client.csr -CA %q -CAkey %q -CAcreateserial "
      .. "-CAserial client.srl -days 2 -out client.pem 2>/dev/null"):format(dir, node.ca, ca_key))
  end
  assert(sh(("chmod 755 %q && chmod 644 %q/*"):format(dir, dir)))
  return { dir = dir, ca = dir .. "/ca.pem", other_ca = dir .. "/other-ca.pem",
           cert = have_key and dir .. "/client.pem", key = have_key and dir .. "/client.key" }
end

-- A per-host error of a name check that failed. lua-nginx-module 0.10.23
-- reports such a failure either as "certificate host mismatch" or, at
-- times, as a closed socket after a successful handshake: the driver's
-- message names the server name and what to change in both cases.
local function refused_name(host_error, name)
  assert.is_string(host_error)
  assert.matches("TLS handshake with [%d.]+:9042 failed: certificate ", host_error)
  assert.is_truthy(host_error:find("certificate host mismatch", 1, true)
    or host_error:find("certificate verification failed", 1, true), host_error)
  assert.matches("'" .. name .. "'", host_error, nil, true)
  assert.matches("set ssl_options.server_name", host_error, nil, true)
end

local available, why = nginx.available()

describe("TLS inside nginx (ssl_options through sslhandshake)", function()
  if not available then
    pending("nginx with the Lua module is not installed: " .. tostring(why))
    return
  end
  local node, node_why = tls_node()
  if not node then
    print("tls_spec skipped: " .. tostring(node_why))
    pending("no TLS Cassandra node: " .. tostring(node_why))
    return
  end

  local trusting, distrusting, files

  local function seq(server, steps)
    local path = ("/tls/seq?host=%s&steps=%s"):format(node.host, steps:gsub("[;=,/]", function(c)
      return ("%%%02X"):format(c:byte())
    end))
    local body, code = server:get(path)
    assert.are.equal(200, code, ("GET %s: %s %s"):format(path, tostring(code), tostring(body)))
    return parse(body), body
  end

  setup(function()
    files = material(node)
    trusting = start_nginx(files.ca)
    distrusting = start_nginx(files.other_ca)
    local body, code = trusting:get("/tls/setup?host=" .. node.host .. "&name=localhost")
    assert.are.equal(200, code, body)
  end)

  teardown(function()
    local fatal = {}
    for _, server in ipairs({ trusting, distrusting }) do
      if server then
        for _, line in ipairs(server:fatal_lines()) do fatal[#fatal + 1] = line end
        server:stop()
      end
    end
    if files then sh(("rm -rf %q"):format(files.dir)) end
    if node.started then sh(node.started .. " down >/dev/null 2>&1") end
    assert.are.same({}, fatal)
  end)

  it("does CRUD and a prepared SELECT over a verified connection", function()
    local r, body = seq(trusting, "v=1,n=localhost,op=crud")
    assert.are.equal("1", r["1_ok"], body)
    assert.are.equal("41,42,none", r["1_result"], body)
  end)

  it("reuses the pooled TLS sockets for the next cluster with the same settings", function()
    local r, body = seq(trusting, "v=1,n=localhost;v=1,n=localhost")
    assert.are.equal("1", r["1_ok"], body)
    assert.are.equal("1", r["2_ok"], body)
    -- The second cluster's control and pool connections come from the
    -- keepalive pool the first one filled: no TCP connect, no handshake.
    assert.are.equal("0", r["2_handshakes"], body)
    assert.is_true(tonumber(r["2_reused"]) >= 2, body)
  end)

  it("refuses a certificate from an untrusted CA with verify = true, with a clear error", function()
    local r, body = seq(distrusting, "v=1,n=localhost")
    assert.are.equal("0", r["1_ok"], body)
    assert.are.equal("NoHostAvailable", r["1_error_name"], body)
    assert.matches("TLS handshake with " .. node.host:gsub("%.", "%%.") .. ":9042 failed: certificate "
      .. "verification failed", r["1_host_error"], nil, false)
    assert.matches("lua_ssl_trusted_certificate", r["1_host_error"], nil, true)
  end)

  it("accepts any certificate with verify = false", function()
    local r, body = seq(distrusting, "v=0,op=crud")
    assert.are.equal("1", r["1_ok"], body)
    assert.are.equal("41,42,none", r["1_result"], body)
  end)

  it("never hands an unverified pooled socket to a cluster that verifies", function()
    -- Same server name, only verification differs: had the verifying
    -- cluster got the socket the first one pooled, it would succeed.
    local r, body = seq(distrusting, "v=0,n=localhost;v=0,n=localhost;v=1,n=localhost")
    assert.are.equal("1", r["1_ok"], body)
    assert.are.equal("0", r["2_handshakes"], body) -- the unverified sockets are pooled...
    assert.are.equal("0", r["3_ok"], body)          -- ...but not for this cluster
    assert.are.equal("0", r["3_reused"], body)
    assert.matches("certificate verification failed", r["3_host_error"], nil, true)
  end)

  it("never hands a verified pooled socket to a cluster that does not verify", function()
    local r, body = seq(trusting, "v=1,n=localhost;v=0,n=localhost")
    assert.are.equal("1", r["1_ok"], body)
    assert.are.equal("1", r["2_ok"], body)
    assert.are.equal("0", r["2_reused"], body)
    assert.is_true(tonumber(r["2_handshakes"]) >= 2, body)
  end)

  describe("server names", function()
    it("checks server_name against the certificate's DNS names", function()
      local r, body = seq(trusting, "v=1,n=localhost;v=1,n=wrong.example")
      assert.are.equal("1", r["1_ok"], body)
      -- The localhost sockets are pooled, but never for another name.
      assert.are.equal("0", r["2_ok"], body)
      assert.are.equal("0", r["2_reused"], body)
      refused_name(r["2_host_error"], "wrong.example")
    end)

    it("checks the address when there is no server_name, and nginx ignores IP SANs", function()
      -- The certificate carries the node's IP as an IP SAN, which libcqlua's
      -- own TLS accepts; nginx's check (X509_check_host) does not.
      local r, body = seq(trusting, "v=1")
      assert.are.equal("0", r["1_ok"], body)
      assert.are.equal("NoHostAvailable", r["1_error_name"], body)
      refused_name(r["1_host_error"], node.host)
    end)

    it("verifies the chain only with check_hostname = false (no SNI)", function()
      local r, body = seq(trusting, "v=1,c=0;v=1,c=0;v=1")
      assert.are.equal("1", r["1_ok"], body)
      assert.are.equal("0", r["2_handshakes"], body)
      -- Sockets whose name was not checked are not handed to a cluster that checks it.
      assert.are.equal("0", r["3_ok"], body)
      assert.are.equal("0", r["3_reused"], body)
      -- The chain is still verified.
      local d = seq(distrusting, "v=1,c=0")
      assert.are.equal("0", d["1_ok"])
      assert.matches("certificate verification failed", d["1_host_error"], nil, true)
    end)

    it("raises for server_name with check_hostname = false, which nginx cannot honour", function()
      local r, body = seq(trusting, "v=1,c=0,n=localhost")
      assert.are.equal("0", r["1_ok"], body)
      assert.are.equal("UnsupportedOperation", r["1_error_name"], body)
      assert.are.equal("ssl_options.check_hostname", r["1_option"], body)
      assert.matches("leave server_name out", r["1_error"], nil, true)
      assert.are.equal("0", r["1_handshakes"], body)
    end)
  end)

  it("raises for ca_file with verification on, naming lua_ssl_trusted_certificate", function()
    local r, body = seq(trusting, "v=1,n=localhost,ca=" .. files.ca)
    assert.are.equal("UnsupportedOperation", r["1_error_name"], body)
    assert.are.equal("ssl_options.ca_file", r["1_option"], body)
    assert.matches("lua_ssl_trusted_certificate", r["1_error"], nil, true)
    assert.are.equal("0", r["1_handshakes"], body)
    -- Without verification the CA file plays no part: accepted.
    local u, ubody = seq(trusting, "v=0,ca=" .. files.ca)
    assert.are.equal("1", u["1_ok"], ubody)
  end)

  it("presents a client certificate through setclientcert, pooled apart", function()
    if not files.cert then
      pending("no CA key next to " .. node.ca .. " to sign a client certificate")
      return
    end
    local steps = ("v=1,n=localhost;v=1,n=localhost,cert=%s,key=%s;v=1,n=localhost,cert=%s,key=%s")
      :format(files.cert, files.key, files.cert, files.key)
    local r, body = seq(trusting, steps)
    assert.are.equal("1", r["2_ok"], body)
    -- Not handed the sockets of the cluster without a certificate...
    assert.are.equal("0", r["2_reused"], body)
    -- ...but those of the same certificate (another Cluster, another TLS context).
    assert.are.equal("1", r["3_ok"], body)
    assert.are.equal("0", r["3_handshakes"], body)
  end)

  it("presents the client certificate to a server that requires one", function()
    -- openssl s_server asking for a client certificate (TLS 1.2, so that a
    -- refusal ends the handshake): it logs the certificate it got. It is no
    -- Cassandra, so the CQL handshake then fails: what matters is the TLS layer.
    local server_key = node.ca:gsub("[^/]+$", "server.pk8")
    local server_cert = node.ca:gsub("[^/]+$", "server.crt")
    local kf = io.open(server_key)
    if not files.cert or not kf then
      pending("no CA key or server key next to " .. node.ca)
      return
    end
    kf:close()
    local socket = require "socket"
    local probe = assert(socket.bind("127.0.0.1", 0))
    local _, port = probe:getsockname()
    probe:close()
    local log = files.dir .. "/s_server.log"
    local p = io.popen(("openssl s_server -rev -tls1_2 -accept 127.0.0.1:%d -cert %q -key %q -CAfile %q -Verify 1 "
      .. "</dev/null >%q 2>&1 & echo $!"):format(port, server_cert, server_key, node.ca, log))
    local pid = tonumber(p:read("*l"))
    p:close()
    finally(function() sh("kill " .. pid .. " 2>/dev/null") end)
    local function log_text()
      local f = io.open(log)
      local t = f and f:read("*a") or ""
      if f then f:close() end
      return t
    end
    for _ = 1, 200 do
      if log_text():find("ACCEPT", 1, true) then break end
      socket.sleep(0.05)
    end
    assert.matches("ACCEPT", log_text(), nil, true)
    local at = ("h=127.0.0.1,p=%d,t=1,v=1,n=localhost"):format(port)
    local r, body = seq(trusting, ("%s,cert=%s,key=%s;%s"):format(at, files.cert, files.key, at))
    -- With the certificate the TLS handshake succeeds (the failure is the CQL one)...
    assert.are.equal("0", r["1_ok"], body)
    assert.is_string(r["1_host_error"], body)
    assert.is_nil(r["1_host_error"]:find("TLS handshake", 1, true), body)
    assert.matches("CN = cqlua-client", log_text(), nil, true)
    -- ...without it the server refuses the handshake.
    assert.are.equal("0", r["2_ok"], body)
    assert.matches("TLS handshake with 127.0.0.1:" .. port .. " failed", r["2_host_error"], nil, true)
    assert.matches("peer did not return a certificate", log_text(), nil, true)
  end)

  it("logs no alert, crit or worker crash", function()
    assert.are.same({}, trusting:fatal_lines())
    assert.are.same({}, distrusting:fatal_lines())
  end)
end)
