--- What the nginx test applications share: a content handler answering
-- `route(args)` as sorted `key=value` lines (the specs parse them), 404
-- for an unknown route, 500 with the error for a route that raised.
-- luacheck: globals ngx
local M = {}

--- `must("what", f())`: f's first result, or an error naming `what` and
-- f's error (what `check(f(), nil, "what")` would have dropped).
function M.must(what, v, err)
  if v == nil or v == false then error(what .. ": " .. tostring(err), 0) end
  return v
end

--- Says a table as sorted `key=value` lines (newlines in values flattened).
function M.say_table(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do ngx.say(k, "=", (tostring(t[k]):gsub("\n", " "))) end
end

--- Answers the request with the route the URI names (the first capture
-- of `pattern`), called as `call(route, args, name)` (default: the route
-- on the query arguments, in a pcall).
-- @tparam table routes name -> function(args) returning a table
-- @tparam string pattern a Lua pattern on ngx.var.uri capturing the name
-- @tparam[opt] function call returns ok, result like pcall
function M.dispatch(routes, pattern, call)
  local name = ngx.var.uri:match(pattern)
  local route = name and routes[name]
  if not route then
    ngx.status = 404
    ngx.say("no route ", ngx.var.uri)
    return
  end
  local args = ngx.req.get_uri_args()
  local ok, res
  if call then ok, res = call(route, args, name) else ok, res = pcall(route, args) end
  if not ok then
    ngx.status = 500
    ngx.say("ERROR ", tostring(res))
    return
  end
  M.say_table(res)
end

--- Waits (at most 10 s) for a timer callback to put its result under
-- `key` in `dict`; returns `{timer_result = value or "none"}`.
function M.timer_result(dict, key)
  for _ = 1, 200 do
    local v = dict:get(key)
    if v then return { timer_result = v } end
    ngx.sleep(0.05)
  end
  return { timer_result = "none" }
end

return M
