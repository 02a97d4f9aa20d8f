--- The query builder's machinery (internal to `cql.querybuilder`): errors,
-- the special values (raw fragments, markers, parameters, selectors), the
-- rendering context that turns clauses into text and markers, and the
-- clauses every statement shares (relations, USING, IF).
-- @module cql.querybuilder.core
-- @local
local identifiers = require "cql.querybuilder.identifiers"

local quote = identifiers.quote

---------------------------------------------------------------------------
-- Errors
---------------------------------------------------------------------------

-- `depth` counts frames above the public function (0: its caller is blamed).
local function argerror(fname, n, msg, depth)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3 + (depth or 0))
end

local function callerror(fname, msg, depth)
  error(("bad call to '%s' (%s)"):format(fname, msg), 3 + (depth or 0))
end

local function describe(v)
  if type(v) == "string" then return ("'%s'"):format(v) end
  return type(v)
end

---------------------------------------------------------------------------
-- Special values: raw CQL, deferred markers, forced parameters
---------------------------------------------------------------------------

local Raw = { __name = "qb.raw" }
local Marker = { __name = "qb.marker" }
local Param = { __name = "qb.param" }
local Selector = {}
Selector.__index = Selector

Raw.__tostring = function(r) return "qb.raw(" .. table.concat(r.segments, "?") .. ")" end
Marker.__tostring = function(m) return "qb.marker(" .. (m.name or "") .. ")" end
Param.__tostring = function(p) return "qb.param(" .. tostring(p.value) .. ")" end

local function is_special(v)
  local mt = getmetatable(v)
  return mt == Raw or mt == Marker or mt == Param
end

local function is_plain_table(v)
  return type(v) == "table" and getmetatable(v) == nil
end

local function count_of(t)
  return t.n or #t
end

-- Splits CQL text at its `?` markers, skipping those inside string
-- literals ('...'), quoted identifiers ("...") and $$...$$ blocks.
local function split_markers(text)
  local segments, start, i, len = {}, 1, 1, #text
  while i <= len do
    local ch = text:sub(i, i)
    if ch == "'" or ch == '"' then
      local j = i + 1
      while true do
        local k = text:find(ch, j, true)
        if not k then i = len; break end
        if text:sub(k + 1, k + 1) == ch then j = k + 2 else i = k; break end
      end
    elseif text:sub(i, i + 1) == "$$" then
      local k = text:find("$$", i + 2, true)
      i = k and k + 1 or len
    elseif ch == "?" then
      segments[#segments + 1] = text:sub(start, i - 1)
      start = i + 1
    end
    i = i + 1
  end
  segments[#segments + 1] = text:sub(start)
  return segments
end

---------------------------------------------------------------------------
-- Selectors: columns, functions, collection elements, UDT fields
---------------------------------------------------------------------------

local function check_name(fname, n, name, what, depth)
  if type(name) ~= "string" then
    argerror(fname, n, (what or "column name") .. " expected, got " .. type(name), (depth or 0) + 1)
  end
  if name == "" then argerror(fname, n, "empty " .. (what or "column name"), (depth or 0) + 1) end
  return name
end

local function new_selector(t)
  return setmetatable(t, Selector)
end

local STAR = new_selector { sk = "star" }

-- A function argument: a column name, `*`, a selector, or a raw/param value.
local function fn_arg(fname, n, a, depth)
  if type(a) == "string" then
    if a == "*" then return STAR end
    check_name(fname, n, a, nil, (depth or 0) + 1)
    return new_selector { sk = "col", name = a }
  end
  if getmetatable(a) == Selector or is_special(a) then return a end
  argerror(fname, n, "column name, selector, qb.raw or qb.param expected, got " .. type(a), (depth or 0) + 1)
end

local function new_fn(name, fname, ...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = fn_arg(fname, i, (select(i, ...)), 2) end
  return new_selector { sk = "fn", name = name, args = args }
end

---------------------------------------------------------------------------
-- Rendering context: text pieces and markers, named at the end
---------------------------------------------------------------------------

local function emit(ctx, s)
  ctx.parts[#ctx.parts + 1] = s
end

local function emit_marker(ctx, m)
  ctx.markers[#ctx.markers + 1] = m
  ctx.parts[#ctx.parts + 1] = m
end

local render_raw

-- Writes one value: a marker bound to it, or the raw/marker it stands for.
local function term(ctx, v, column, kind, extra)
  local mt = getmetatable(v)
  if mt == Raw then return render_raw(ctx, v) end
  local m = { column = column, kind = kind }
  if extra then for k, x in pairs(extra) do m[k] = x end end
  if mt == Marker then
    m.unbound, m.explicit = true, v.name
  elseif mt == Param then
    m.value = v.value
  else
    m.value = v
  end
  emit_marker(ctx, m)
end

function render_raw(ctx, r)
  local segs = r.segments
  for i = 1, #segs do
    emit(ctx, segs[i])
    if i < #segs then term(ctx, r.values[i], nil, "raw") end
  end
end

local function render_selector(ctx, s)
  local mt = getmetatable(s)
  if mt == Raw then return render_raw(ctx, s) end
  if mt ~= Selector then return term(ctx, s, nil, "value") end -- a qb.param / qb.marker argument
  local sk = s.sk
  if sk == "col" then
    emit(ctx, quote(s.name))
  elseif sk == "star" then
    emit(ctx, "*")
  elseif sk == "fn" then
    emit(ctx, s.name .. "(")
    for i, a in ipairs(s.args) do
      if i > 1 then emit(ctx, ", ") end
      render_selector(ctx, a)
    end
    emit(ctx, ")")
  elseif sk == "cast" then
    emit(ctx, "CAST(")
    render_selector(ctx, s.arg)
    emit(ctx, " AS " .. s.typename .. ")")
  elseif sk == "elem" then
    emit(ctx, quote(s.col) .. "[")
    term(ctx, s.key, s.col, "key")
    emit(ctx, "]")
  elseif sk == "field" then
    emit(ctx, quote(s.col) .. "." .. quote(s.field))
  end
  if s.alias then emit(ctx, " AS " .. quote(s.alias)) end
end

local BASE_NAMES = { key = "_key", element = "_value", keys = "_keys" }

local function marker_base(m)
  if m.column then
    if m.kind == "field" then return m.column .. "_" .. m.field end
    return m.column .. (BASE_NAMES[m.kind] or "")
  end
  if m.kind == "raw" or m.kind == "value" then return "param" end
  return m.kind
end

-- Joins the pieces; names the markers when `named`; returns text, values,
-- marker records.
local function finish(ctx, named)
  local markers = ctx.markers
  for _, m in ipairs(markers) do
    if m.explicit then named = true end
  end
  if named then
    local used = {}
    for _, m in ipairs(markers) do
      if m.explicit then m.name = m.explicit; used[m.name] = true end
    end
    for _, m in ipairs(markers) do
      if not m.name then
        local base = marker_base(m)
        local name, k = base, 1
        while used[name] do k = k + 1; name = base .. "_" .. k end
        used[name] = true
        m.name = name
      end
    end
  end
  local text = {}
  for i, p in ipairs(ctx.parts) do
    if type(p) == "table" then text[i] = named and (":" .. quote(p.name)) or "?" else text[i] = p end
  end
  local values, records = named and {} or { n = #markers }, {}
  for i, m in ipairs(markers) do
    if named then
      if not m.unbound then values[m.name] = m.value end
    else
      values[i] = m.value
    end
    records[i] = { column = m.column, columns = m.columns, kind = m.kind, field = m.field,
                   name = m.name, unbound = m.unbound }
  end
  return table.concat(text), values, records
end

---------------------------------------------------------------------------
-- Shared pieces of the statements
---------------------------------------------------------------------------

-- Returns a copy of a builder with some fields changed.
local function derive(self, changes)
  local o = {}
  for k, v in pairs(self) do o[k] = v end
  for k, v in pairs(changes) do o[k] = v end
  return setmetatable(o, getmetatable(self))
end

-- A copy of a list with items appended.
local function append(list, ...)
  local out = {}
  for i = 1, #list do out[i] = list[i] end
  for i = 1, select("#", ...) do out[#out + 1] = (select(i, ...)) end
  return out
end

local function table_name(fname, t)
  if getmetatable(t) == Raw then return t end
  if type(t) ~= "string" then argerror(fname, 1, "table name expected, got " .. type(t), 1) end
  local ks, tb = t:match("^([^.]*)%.([^.]*)$")
  if not ks then ks, tb = nil, t end
  for _, part in ipairs { ks or "x", tb } do
    if not part:match("^[%w_]+$") then
      argerror(fname, 1, ("invalid table name '%s' (keyspace and table names are letters, digits and _)")
        :format(t), 1)
    end
  end
  return (ks and (quote(ks) .. ".") or "") .. quote(tb)
end

local function render_table(ctx, t)
  if getmetatable(t) == Raw then render_raw(ctx, t) else emit(ctx, t) end
end

-- Integer literals for LIMIT, TTL, TIMESTAMP: a number or int64 cdata.
local function integer_text(v)
  if type(v) == "number" then
    if v ~= v or v % 1 ~= 0 or math.abs(v) > 2 ^ 53 then return nil end
    return ("%d"):format(v)
  end
  if type(v) == "cdata" then
    local ok, s = pcall(function() return tostring(v + 0LL) end)
    if ok then return (s:gsub("U?LL$", "")) end
  end
  return nil
end

local function literal_or_param(fname, v, kind, check)
  local mt = getmetatable(v)
  if mt == Param or mt == Marker or mt == Raw then return { v = v, kind = kind } end
  local text = integer_text(v)
  if not text then
    argerror(fname, 1, "integer expected, got " .. (type(v) == "number" and tostring(v) or describe(v)), 1)
  end
  local msg = check(tonumber(text))
  if msg then argerror(fname, 1, msg .. ", got " .. text, 1) end
  return { text = text, kind = kind }
end

local function render_number(ctx, n)
  if n.text then emit(ctx, n.text) else term(ctx, n.v, nil, n.kind) end
end

local function positive(n)
  if n < 1 then return "a positive integer expected" end
end

local MAX_TTL = 630720000 -- 20 years: the server's maximum TTL

local function valid_ttl(n)
  if n < 0 or n > MAX_TTL then return "TTL in seconds from 0 to " .. MAX_TTL .. " expected" end
end

-- Operators, by every accepted spelling.
local OPS = {
  ["="] = "=", eq = "=", ["<"] = "<", lt = "<", [">"] = ">", gt = ">",
  ["<="] = "<=", lte = "<=", le = "<=", [">="] = ">=", gte = ">=", ge = ">=",
  ["!="] = "!=", ne = "!=", ["in"] = "IN", contains = "CONTAINS",
  ["contains key"] = "CONTAINS KEY", ["contains_key"] = "CONTAINS KEY", like = "LIKE",
}

local COMPARE = { ["="] = true, ["<"] = true, [">"] = true, ["<="] = true, [">="] = true, ["!="] = true }

local function normalize_op(fname, n, op, depth)
  if type(op) ~= "string" then argerror(fname, n, "operator expected, got " .. type(op), depth + 1) end
  local norm = OPS[op:lower():gsub("^%s+", ""):gsub("%s+$", ""):gsub("%s+", " ")]
  if not norm then argerror(fname, n, ("unknown operator '%s'"):format(op), depth + 1) end
  return norm
end

-- Checks a relation (WHERE or IF) and returns its clause. `where` tells
-- which: the allowed operators and left sides differ.
local function relation(fname, where, lhs, op, rhs, nargs, depth)
  if nargs < 3 then argerror(fname, 3, "value expected", depth) end
  op = normalize_op(fname, 2, op, depth)
  if where and op == "!=" then
    argerror(fname, 2, "operator '!=' is not allowed in WHERE (Cassandra 5.0 accepts it only in IF conditions)",
      depth)
  end
  if not where and op == "LIKE" then argerror(fname, 2, "operator 'LIKE' is not allowed in IF conditions", depth) end
  local mt = getmetatable(lhs)
  if mt == Selector and lhs.sk == "col" and not lhs.alias then lhs, mt = lhs.name, nil end
  local shape
  if type(lhs) == "string" then
    check_name(fname, 1, lhs, nil, depth)
    shape = "col"
  elseif mt == Selector then
    if lhs.sk == "fn" and lhs.name == "token" then
      if not where then argerror(fname, 1, "token() is only allowed in WHERE", depth) end
      shape = "token"
    elseif lhs.sk == "elem" or lhs.sk == "field" then
      shape = lhs.sk
    else
      argerror(fname, 1, "column name, column list, qb.token, qb.elem or qb.field expected", depth)
    end
    if lhs.alias then argerror(fname, 1, "an alias has no place in a relation", depth) end
  elseif is_plain_table(lhs) then
    if not where then argerror(fname, 1, "column lists are only allowed in WHERE", depth) end
    if #lhs == 0 then argerror(fname, 1, "empty column list", depth) end
    for i = 1, #lhs do check_name(fname, 1, lhs[i], "column name in the list", depth) end
    shape = "tuple"
  else
    argerror(fname, 1, "column name, column list, qb.token, qb.elem or qb.field expected, got " .. type(lhs), depth)
  end
  if op == "CONTAINS" or op == "CONTAINS KEY" or op == "LIKE" then
    if shape ~= "col" then argerror(fname, 1, op .. " needs a column name on its left", depth) end
  end
  if where and rhs == nil and op ~= "IN" then
    argerror(fname, 3, "nil value (CQL has no null in WHERE; use qb.marker for a value bound later)", depth)
  end
  if shape == "token" and not COMPARE[op] then
    argerror(fname, 2, ("operator '%s' is not allowed with token()"):format(op), depth)
  end
  if op == "IN" and not is_special(rhs) then
    if not is_plain_table(rhs) then
      argerror(fname, 3, "array of values, qb.param or qb.marker expected for IN, got " .. type(rhs), depth)
    end
    if shape == "tuple" then
      for i = 1, count_of(rhs) do
        local t = rhs[i]
        if not is_special(t) and (not is_plain_table(t) or count_of(t) ~= #lhs) then
          argerror(fname, 3, ("IN item %d: a tuple of %d value(s) expected"):format(i, #lhs), depth)
        end
      end
    end
  elseif shape == "tuple" and not is_special(rhs) then
    if not is_plain_table(rhs) or count_of(rhs) ~= #lhs then
      argerror(fname, 3, ("a tuple of %d value(s) expected for %d column(s)"):format(#lhs, #lhs), depth)
    end
  elseif shape == "token" and is_plain_table(rhs) and count_of(rhs) ~= #lhs.args then
    argerror(fname, 3, ("%d partition key value(s) expected for token(), got %d"):format(#lhs.args, count_of(rhs)),
      depth)
  elseif shape == "token" and not is_special(rhs) and not is_plain_table(rhs) and not integer_text(rhs)
      and #lhs.args ~= 1 then
    argerror(fname, 3, "a token (integer) or an array of partition key values expected", depth)
  end
  -- Keep copies of the arrays that shape the text, so later changes to the
  -- caller's tables do not change the builder.
  if shape == "tuple" then lhs = { unpack(lhs) } end
  if is_plain_table(rhs) and (op == "IN" or shape == "tuple" or shape == "token") then
    local copy = { n = count_of(rhs) }
    for i = 1, copy.n do
      local item = rhs[i]
      if shape == "tuple" and op == "IN" and is_plain_table(item) then
        item = { n = count_of(item), unpack(item, 1, count_of(item)) }
      end
      copy[i] = item
    end
    rhs = copy
  end
  return { lhs = lhs, op = op, rhs = rhs, shape = shape }
end

local function render_relation(ctx, r)
  if getmetatable(r) == Raw then return render_raw(ctx, r) end
  local lhs, op, rhs, shape = r.lhs, r.op, r.rhs, r.shape
  local column, kind = nil, "value"
  if shape == "col" then
    emit(ctx, quote(lhs))
    column = lhs
  elseif shape == "tuple" then
    emit(ctx, "(")
    for i, c in ipairs(lhs) do emit(ctx, (i > 1 and ", " or "") .. quote(c)) end
    emit(ctx, ")")
  else
    render_selector(ctx, lhs)
    column = lhs.col
    if shape == "elem" then kind = "element" elseif shape == "field" then kind = "field" end
  end
  emit(ctx, " " .. op .. " ")
  local extra = shape == "field" and { field = lhs.field } or nil
  if op == "CONTAINS" then
    term(ctx, rhs, column, "element")
  elseif op == "CONTAINS KEY" then
    term(ctx, rhs, column, "key")
  elseif shape == "tuple" then
    if op == "IN" then
      if is_special(rhs) then return term(ctx, rhs, nil, "values", { columns = lhs }) end
      emit(ctx, "(")
      for i = 1, count_of(rhs) do
        if i > 1 then emit(ctx, ", ") end
        if is_special(rhs[i]) then
          term(ctx, rhs[i], nil, "tuple", { columns = lhs })
        else
          emit(ctx, "(")
          for j, c in ipairs(lhs) do
            if j > 1 then emit(ctx, ", ") end
            term(ctx, rhs[i][j], c, "value")
          end
          emit(ctx, ")")
        end
      end
      emit(ctx, ")")
    elseif is_special(rhs) then
      term(ctx, rhs, nil, "tuple", { columns = lhs })
    else
      emit(ctx, "(")
      for j, c in ipairs(lhs) do
        if j > 1 then emit(ctx, ", ") end
        term(ctx, rhs[j], c, "value")
      end
      emit(ctx, ")")
    end
  elseif shape == "token" then
    if is_special(rhs) or integer_text(rhs) then
      term(ctx, rhs, nil, "token")
    else
      local values = is_plain_table(rhs) and rhs or { rhs }
      emit(ctx, "token(")
      for j, a in ipairs(lhs.args) do
        if j > 1 then emit(ctx, ", ") end
        term(ctx, values[j], a.name, "value")
      end
      emit(ctx, ")")
    end
  elseif op == "IN" then
    if is_special(rhs) then
      term(ctx, rhs, column, kind == "value" and "values" or kind, extra)
    else
      emit(ctx, "(")
      for i = 1, count_of(rhs) do
        if i > 1 then emit(ctx, ", ") end
        term(ctx, rhs[i], column, kind, extra)
      end
      emit(ctx, ")")
    end
  else
    term(ctx, rhs, column, kind, extra)
  end
end

-- The clauses of a table form `{a = 1, b = 2}`: equalities, sorted by name.
local function equalities(fname, where, t)
  if #t > 0 or next(t) == nil then
    argerror(fname, 1, "table of column = value pairs expected (or column, operator, value)", 2)
  end
  local names = {}
  for k in pairs(t) do
    if type(k) ~= "string" then argerror(fname, 1, "column names must be strings, got " .. type(k), 2) end
    names[#names + 1] = k
  end
  table.sort(names)
  local out = {}
  for i, k in ipairs(names) do out[i] = relation(fname, where, k, "=", t[k], 3, 3) end
  return out
end

local function add_relations(self, field, fname, where, nargs, lhs, op, rhs)
  if nargs == 1 and getmetatable(lhs) == Raw then
    return derive(self, { [field] = append(self[field], lhs) })
  end
  if nargs == 1 and is_plain_table(lhs) then
    return derive(self, { [field] = append(self[field], unpack(equalities(fname, where, lhs))) })
  end
  if nargs == 0 then argerror(fname, 1, "relation expected", 1) end
  local r = relation(fname, where, lhs, op, rhs, nargs, 2)
  return derive(self, { [field] = append(self[field], r) })
end

local function render_where(ctx, wheres)
  if #wheres == 0 then return end
  emit(ctx, " WHERE ")
  for i, r in ipairs(wheres) do
    if i > 1 then emit(ctx, " AND ") end
    render_relation(ctx, r)
  end
end

local function render_conditions(ctx, self)
  if self.if_exists_ then
    emit(ctx, " IF EXISTS")
  elseif #self.conds > 0 then
    emit(ctx, " IF ")
    for i, r in ipairs(self.conds) do
      if i > 1 then emit(ctx, " AND ") end
      render_relation(ctx, r)
    end
  end
end

local function render_using(ctx, self)
  local first = true
  for _, n in ipairs { self.ttl or false, self.timestamp or false } do
    if n then
      emit(ctx, first and " USING " or " AND ")
      emit(ctx, n.kind == "ttl" and "TTL " or "TIMESTAMP ")
      render_number(ctx, n)
      first = false
    end
  end
end

return {
  argerror = argerror,
  callerror = callerror,
  describe = describe,
  Raw = Raw,
  Marker = Marker,
  Param = Param,
  Selector = Selector,
  is_special = is_special,
  is_plain_table = is_plain_table,
  count_of = count_of,
  split_markers = split_markers,
  check_name = check_name,
  new_selector = new_selector,
  STAR = STAR,
  fn_arg = fn_arg,
  new_fn = new_fn,
  emit = emit,
  emit_marker = emit_marker,
  term = term,
  render_raw = render_raw,
  render_selector = render_selector,
  BASE_NAMES = BASE_NAMES,
  marker_base = marker_base,
  finish = finish,
  derive = derive,
  append = append,
  table_name = table_name,
  render_table = render_table,
  integer_text = integer_text,
  literal_or_param = literal_or_param,
  render_number = render_number,
  positive = positive,
  MAX_TTL = MAX_TTL,
  valid_ttl = valid_ttl,
  OPS = OPS,
  COMPARE = COMPARE,
  normalize_op = normalize_op,
  relation = relation,
  render_relation = render_relation,
  equalities = equalities,
  add_relations = add_relations,
  render_where = render_where,
  render_conditions = render_conditions,
  render_using = render_using,
}
