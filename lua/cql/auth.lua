--- Authentication providers, as in the seed's `cassandra.auth`.
--
-- A provider makes one authenticator per connection; the connection calls
-- `initial_response()` when the server asks for credentials, then
-- `evaluate_challenge(token)` for each challenge (a SASL exchange), and
-- `on_authentication_success(token)` at the end. Write your own provider
-- in Lua with these method names to plug in any SASL mechanism.
-- @module cql.auth
local auth = {}

local PlainTextAuthenticator = {}
PlainTextAuthenticator.__index = PlainTextAuthenticator

--- The SASL PLAIN token: authzid (empty), username, password.
function PlainTextAuthenticator:initial_response()
  return "\0" .. self.username .. "\0" .. self.password
end

--- PLAIN has no challenges; a server that sends one gets no token.
function PlainTextAuthenticator.evaluate_challenge()
  return nil
end

function PlainTextAuthenticator.on_authentication_success() end

local PlainTextAuthProvider = {}
PlainTextAuthProvider.__index = PlainTextAuthProvider

--- Username and password authentication (PasswordAuthenticator).
-- `PlainTextAuthProvider{username = "u", password = "p"}` or
-- `PlainTextAuthProvider("u", "p")`.
function auth.PlainTextAuthProvider(username, password)
  if type(username) == "table" then username, password = username.username, username.password end
  if type(username) ~= "string" or type(password) ~= "string" then
    error("bad argument to 'PlainTextAuthProvider' (username and password strings expected)", 2)
  end
  return setmetatable({ username = username, password = password }, PlainTextAuthProvider)
end

--- One authenticator per connection.
-- @param host the node's address
-- @param authenticator_class the server's authenticator class name
function PlainTextAuthProvider:new_authenticator(host, authenticator_class)
  return setmetatable({ username = self.username, password = self.password, host = host,
                        authenticator_class = authenticator_class }, PlainTextAuthenticator)
end

--- Identifies the credentials, for hosts that pool authenticated
-- connections (nginx's keepalive pool): connections are only reused by
-- clusters whose provider gives the same key. The OpenResty host hashes it
-- before use. A custom provider without `cache_key` gets no pooling of
-- authenticated connections.
function PlainTextAuthProvider:cache_key()
  return "plain\0" .. self.username .. "\0" .. self.password
end

auth.PlainTextAuthenticator = PlainTextAuthenticator

return auth
