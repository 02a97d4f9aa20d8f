--- SortedSet and OrderedMap: the seed's set and map values, by value.
-- Elements and keys may be any driver value (strings, numbers, int64 cdata,
-- UUID, Decimal, frozen collections as tables); membership is by value
-- (`cql.util.compare`), never by identity. LuaJIT has no `__len`/`__pairs`
-- for tables, so size and iteration are methods: `s:len()`, `for v in
-- s:iter()`, `for k, v in m:pairs()`.
-- @module cql.util.collections
local cmp = require "cql.util.compare"

local compare, equal, keyof = cmp.compare, cmp.equal, cmp.key
local type, getmetatable, setmetatable, tostring = type, getmetatable, setmetatable, tostring
local concat, sort, remove, insert = table.concat, table.sort, table.remove, table.insert

local M = {}

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- SortedSet ---------------------------------------------------------------

local SortedSet = {}
SortedSet.__name = "SortedSet"
SortedSet.__index = SortedSet
SortedSet.__rank = 40

-- Index of v in the sorted items, or (nil, insertion point).
local function search(items, n, v)
  local lo, hi = 1, n
  while lo <= hi do
    local mid = lo + (hi - lo) / 2
    mid = mid - mid % 1
    local c = compare(items[mid], v)
    if c == 0 then return mid end
    if c < 0 then lo = mid + 1 else hi = mid - 1 end
  end
  return nil, lo
end

local function less(a, b) return compare(a, b) < 0 end

local function from_items(items, n)
  -- Values decoded from a set arrive in the server's order, which is usually
  -- ours too: check in one pass and sort only when needed, then drop
  -- duplicates (by value).
  local sorted = true
  for i = 2, n do
    if compare(items[i - 1], items[i]) >= 0 then sorted = false break end
  end
  if not sorted then
    sort(items, less)
    local w = n > 0 and 1 or 0
    for i = 2, n do
      if compare(items[w], items[i]) ~= 0 then
        w = w + 1
        items[w] = items[i]
      end
    end
    for i = w + 1, n do items[i] = nil end
    n = w
  end
  return setmetatable({ _v = items, _n = n }, SortedSet)
end

local function collect(iterable)
  local items, n = {}, 0
  if iterable == nil then return items, 0 end
  if getmetatable(iterable) == SortedSet then
    for i = 1, iterable._n do items[i] = iterable._v[i] end
    return items, iterable._n
  end
  if type(iterable) ~= "table" then
    error("SortedSet: expected an array or a SortedSet, got " .. type(iterable), 3)
  end
  for i = 1, iterable.n or #iterable do
    local v = iterable[i]
    if v ~= nil then
      n = n + 1
      items[n] = v
    end
  end
  return items, n
end

--- A set kept sorted by `cql.util.compare`, with value membership.
-- @param[opt] iterable an array (nil holes skipped) or a SortedSet
-- @treturn SortedSet
function M.SortedSet(iterable)
  return from_items(collect(iterable))
end

--- Builds a SortedSet taking ownership of `items[1..n]` (codec use).
-- @local
M.sortedset_from_items = from_items

--- True when `v` is a SortedSet.
function M.is_sortedset(v) return getmetatable(v) == SortedSet end

--- Number of elements.
function SortedSet:len() return self._n end

--- True when an element equal to `v` is present.
function SortedSet:contains(v) return (search(self._v, self._n, v)) ~= nil end

--- Adds `v` (no-op when an equal element is present).
function SortedSet:add(v)
  if v == nil then error("SortedSet:add: nil is not a value", 2) end
  local i, at = search(self._v, self._n, v)
  if i then return end
  insert(self._v, at, v)
  self._n = self._n + 1
end

--- Adds every element of an array or SortedSet.
function SortedSet:update(iterable)
  local items, n = collect(iterable)
  for i = 1, n do self:add(items[i]) end
end

--- Removes `v`; raises when absent (the seed's KeyError).
function SortedSet:remove(v)
  local i = search(self._v, self._n, v)
  if not i then error("SortedSet:remove: " .. show(v) .. " is not in the set", 2) end
  remove(self._v, i)
  self._n = self._n - 1
end

--- Removes `v` when present.
function SortedSet:discard(v)
  local i = search(self._v, self._n, v)
  if i then
    remove(self._v, i)
    self._n = self._n - 1
  end
end

--- Removes and returns the last (greatest) element; raises when empty.
function SortedSet:pop()
  if self._n == 0 then error("SortedSet:pop: the set is empty", 2) end
  local v = self._v[self._n]
  self._v[self._n] = nil
  self._n = self._n - 1
  return v
end

--- Removes every element.
function SortedSet:clear()
  self._v, self._n = {}, 0
end

--- A shallow copy.
function SortedSet:copy()
  local items = {}
  for i = 1, self._n do items[i] = self._v[i] end
  return setmetatable({ _v = items, _n = self._n }, SortedSet)
end

--- Iterator over the elements in order: `for v in s:iter() do`.
function SortedSet:iter()
  local i, items, n = 0, self._v, self._n
  return function()
    i = i + 1
    if i <= n then return items[i] end
  end
end

--- The elements as a new array (with field n).
function SortedSet:items()
  local out = { n = self._n }
  for i = 1, self._n do out[i] = self._v[i] end
  return out
end

local function other_set(o)
  if getmetatable(o) == SortedSet then return o end
  return M.SortedSet(o)
end

--- Elements in either set (`other` may be an array).
function SortedSet:union(other)
  local r = self:copy()
  r:update(other)
  return r
end

--- Elements in both sets.
function SortedSet:intersection(other)
  other = other_set(other)
  local items, n = {}, 0
  for i = 1, self._n do
    local v = self._v[i]
    if other:contains(v) then n = n + 1; items[n] = v end
  end
  return setmetatable({ _v = items, _n = n }, SortedSet)
end

--- Elements of this set not in `other`.
function SortedSet:difference(other)
  other = other_set(other)
  local items, n = {}, 0
  for i = 1, self._n do
    local v = self._v[i]
    if not other:contains(v) then n = n + 1; items[n] = v end
  end
  return setmetatable({ _v = items, _n = n }, SortedSet)
end

--- Elements in exactly one of the sets.
function SortedSet:symmetric_difference(other)
  other = other_set(other)
  local r = self:difference(other)
  r:update(other:difference(self))
  return r
end

--- True when every element is in `other`.
function SortedSet:issubset(other)
  other = other_set(other)
  for i = 1, self._n do
    if not other:contains(self._v[i]) then return false end
  end
  return true
end

--- True when every element of `other` is in this set.
function SortedSet:issuperset(other)
  return other_set(other):issubset(self)
end

--- True when the sets share no element.
function SortedSet:isdisjoint(other)
  other = other_set(other)
  for i = 1, self._n do
    if other:contains(self._v[i]) then return false end
  end
  return true
end

SortedSet.__eq = function(a, b)
  if a._n ~= b._n then return false end
  for i = 1, a._n do
    if compare(a._v[i], b._v[i]) ~= 0 then return false end
  end
  return true
end

SortedSet.__cmp = function(a, b)
  return compare({ n = a._n, unpack(a._v, 1, a._n) }, { n = b._n, unpack(b._v, 1, b._n) })
end

SortedSet.__key = function(s)
  local parts = {}
  for i = 1, s._n do
    local k = keyof(s._v[i])
    parts[i] = #k .. ":" .. k
  end
  return "S{" .. concat(parts) .. "}"
end

SortedSet.__tostring = function(s)
  local parts = {}
  for i = 1, s._n do parts[i] = show(s._v[i]) end
  return "SortedSet([" .. concat(parts, ", ") .. "])"
end

-- OrderedMap --------------------------------------------------------------

local OrderedMap = {}
OrderedMap.__name = "OrderedMap"
OrderedMap.__index = OrderedMap
OrderedMap.__rank = 41

-- Plain strings, booleans and non-NaN numbers index the map directly (an
-- int64 within 2^53 is looked up as the equal number); every other key goes
-- through its canonical string in a second table, so the two never collide.
local TWO53 = 2 ^ 53
local function slot(k)
  local t = type(k)
  if t == "string" or t == "boolean" then return k, true end
  if t == "number" then
    if k == k then return k, true end
    return "nan", false
  end
  if t == "cdata" and cmp.is_int64(k) and k >= -TWO53 and k <= TWO53 then
    return tonumber(k), true
  end
  return keyof(k), false
end

-- Decoded maps are built without an index (most are only iterated); the
-- index is made on the first lookup.
local function build_index(self)
  local d, o = {}, {}
  local ks = self._k
  for i = 1, self._n do
    local s, direct = slot(ks[i])
    if direct then d[s] = i else o[s] = i end
  end
  self._d, self._o = d, o
end

local function find(self, k)
  if not self._d then build_index(self) end
  local s, direct = slot(k)
  if direct then return self._d[s], s, direct end
  return self._o[s], s, direct
end

--- A map that keeps insertion order and looks keys up by value.
-- @param[opt] init an array of {key, value} pairs, a plain table, or an OrderedMap
-- @treturn OrderedMap
function M.OrderedMap(init)
  local m = setmetatable({ _k = {}, _v = {}, _n = 0, _d = {}, _o = {} }, OrderedMap)
  if init == nil then return m end
  if getmetatable(init) == OrderedMap then
    for i = 1, init._n do m:set(init._k[i], init._v[i]) end
  elseif type(init) == "table" then
    if init[1] ~= nil and type(init[1]) == "table" and init[1][1] ~= nil and #init[1] == 2 then
      for i = 1, #init do m:set(init[i][1], init[i][2]) end
    else
      for k, v in pairs(init) do m:set(k, v) end
    end
  else
    error("OrderedMap: expected a table, got " .. type(init), 2)
  end
  return m
end

--- True when `v` is an OrderedMap.
function M.is_orderedmap(v) return getmetatable(v) == OrderedMap end

--- Number of entries.
function OrderedMap:len() return self._n end

--- The value for `k` (nil when absent).
function OrderedMap:get(k)
  local i = find(self, k)
  if i then return self._v[i] end
  return nil
end

--- True when `k` is a key.
function OrderedMap:contains(k) return (find(self, k)) ~= nil end

--- Sets `k` to `v`; a new key goes last, an existing one keeps its place.
-- Setting nil removes the key.
function OrderedMap:set(k, v)
  if k == nil then error("OrderedMap:set: nil is not a key", 2) end
  if v == nil then return self:remove(k) end
  local i, s, direct = find(self, k)
  if i then
    self._v[i] = v
    return
  end
  local n = self._n + 1
  self._n = n
  self._k[n], self._v[n] = k, v
  if direct then self._d[s] = n else self._o[s] = n end
end

--- Removes `k`; returns its value (nil when absent).
function OrderedMap:remove(k)
  local i, s, direct = find(self, k)
  if not i then return nil end
  local v = self._v[i]
  remove(self._k, i)
  remove(self._v, i)
  self._n = self._n - 1
  if direct then self._d[s] = nil else self._o[s] = nil end
  for j = i, self._n do
    local sj, dj = slot(self._k[j])
    if dj then self._d[sj] = j else self._o[sj] = j end
  end
  return v
end

--- Iterator over (key, value) in insertion order: `for k, v in m:pairs() do`.
function OrderedMap:pairs()
  local i, ks, vs, n = 0, self._k, self._v, self._n
  return function()
    i = i + 1
    if i <= n then return ks[i], vs[i] end
  end
end

--- The keys as a new array (with n).
function OrderedMap:keys()
  local out = { n = self._n }
  for i = 1, self._n do out[i] = self._k[i] end
  return out
end

--- The values as a new array (with n).
function OrderedMap:values()
  local out = { n = self._n }
  for i = 1, self._n do out[i] = self._v[i] end
  return out
end

--- The entries as a new array of {key, value} (with n).
function OrderedMap:items()
  local out = { n = self._n }
  for i = 1, self._n do out[i] = { self._k[i], self._v[i] } end
  return out
end

--- A map over keys[1..n] and values[1..n], taking ownership of both arrays
-- (codec use: decoded keys are distinct; the index is built lazily).
-- @local
function M.orderedmap_from_arrays(keys, values, n)
  return setmetatable({ _k = keys, _v = values, _n = n }, OrderedMap)
end

OrderedMap.__eq = function(a, b)
  if a._n ~= b._n then return false end
  for i = 1, a._n do
    local j = find(b, a._k[i])
    if not j or not equal(a._v[i], b._v[j]) then return false end
  end
  return true
end

OrderedMap.__cmp = function(a, b)
  local n = a._n < b._n and a._n or b._n
  for i = 1, n do
    local c = compare(a._k[i], b._k[i])
    if c ~= 0 then return c end
    c = compare(a._v[i], b._v[i])
    if c ~= 0 then return c end
  end
  return a._n < b._n and -1 or (a._n > b._n and 1 or 0)
end

OrderedMap.__key = function(m)
  local parts = {}
  for i = 1, m._n do
    local k, v = keyof(m._k[i]), keyof(m._v[i])
    parts[i] = #k .. ":" .. k .. #v .. ":" .. v
  end
  return "M{" .. concat(parts) .. "}"
end

OrderedMap.__tostring = function(m)
  local parts = {}
  for i = 1, m._n do parts[i] = show(m._k[i]) .. ": " .. show(m._v[i]) end
  return "{" .. concat(parts, ", ") .. "}"
end

return M
